#include "dialects/openim/openim.h"

#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "core/services.h"

namespace up::dialects::openim {
namespace {

Result<std::string> credentials(core::Services& s, const std::string& tenant,
                                const std::string& app_id) {
  auto app = s.directory.app(tenant, app_id);
  if (!app) return fail(app.error());
  if (app->dialect != "openim")
    return fail(Errc::kInvalidArgument, "app " + app_id + " is not an OpenIM app");
  const S3Credentials c = s3_credentials(s, tenant, app_id, app->settings_json);
  return boost::json::serialize(boost::json::object{{"access_key_id", c.access_key_id},
                                                    {"secret_access_key", c.secret_access_key},
                                                    {"region", c.region},
                                                    {"bucket", c.bucket}});
}

}  // namespace

void add_admin_commands(CLI::App& app, const core::RunAdminCommand& run) {
  struct Args {
    std::string tenant, app_id;
  };
  auto a = std::make_shared<Args>();
  auto* openim = app.add_subcommand("openim", "OpenIM apps")->require_subcommand(1);
  auto* c = openim->add_subcommand(
      "credentials", "print an OpenIM app's S3 form credentials (to sign POST policies)");
  c->add_option("--tenant", a->tenant, "tenant id")->required();
  c->add_option("--app", a->app_id, "app id")->required();
  c->callback(
      [a, run] { run([a](core::Services& s) { return credentials(s, a->tenant, a->app_id); }); });
}

}  // namespace up::dialects::openim
