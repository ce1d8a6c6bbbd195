#include "support/service_env.h"

#include <cstdio>
#include <filesystem>
#include <memory>

namespace up::testing::services {

Result<std::string> run(const std::string& script, const std::string& env) {
  const std::string path = std::string(UP_SERVICES_DIR) + "/" + script;
  if (!std::filesystem::exists(path))
    return fail(Errc::kUnavailable, "the tests need " + path + " (not found)");
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen((env + "bash '" + path + "'").c_str(), "r"),
                                          pclose);
  if (!p) return fail(Errc::kUnavailable, "cannot run " + path);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  int rc = pclose(p.release());
  if (rc != 0)
    return fail(Errc::kUnavailable, path + " failed (exit " + std::to_string(rc) + "): " + out);
  return out;
}

std::string exported(const std::string& out, const std::string& name) {
  const std::string prefix = "export " + name + "=";
  size_t at = out.rfind(prefix, 0) == 0 ? 0 : out.find("\n" + prefix);
  if (at == std::string::npos) return {};
  at = out.find(prefix, at) + prefix.size();
  return out.substr(at, out.find('\n', at) - at);
}

}  // namespace up::testing::services
