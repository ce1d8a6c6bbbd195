#include "dialects/jodoo/jodoo.h"

#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "core/services.h"

namespace up::dialects::jodoo {

void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run) {
  auto tenant = std::make_shared<std::string>();
  auto* jodoo = app.add_subcommand("jodoo", "Jodoo dialect")->require_subcommand(1);
  auto* c = jodoo->add_subcommand(
      "credentials",
      "print a tenant's current Qiniu AccessKey/SecretKey (to verify upload callbacks)");
  c->add_option("--tenant", *tenant, "tenant id")->required();
  c->callback([tenant, run] {
    run([tenant](core::Services& s) -> Result<std::string> {
      auto c = credentials(s, *tenant);
      if (!c) return fail(c.error());
      return boost::json::serialize(
          boost::json::object{{"access_key", c->access_key}, {"secret_key", c->secret_key}});
    });
  });
}

}  // namespace up::dialects::jodoo
