#pragma once
// Dialect flows the integration suites share, on any server process: each
// step takes the client of the process it runs on, so one flow can cross
// processes (tests/integration/scale_out_test.cc).

#include <string>

#include <boost/json.hpp>

#include "integration/harness.h"

namespace up::testing::flows {

// The --blobs flag of servers on a fresh bucket (named in `bucket`, under the
// prefix "upgate") of the test RGW, which it starts on first use. The store's
// keys go into this process's environment, which the servers inherit (never
// on a command line). A test failure, and "", when RGW is not there.
std::string rgw_blobs_flag(std::string& bucket);

// A multipart/form-data body: `fields` as text parts in order, then the file
// part "file" (filename a.bin), as a browser or curl -F sends a form.
std::string form_body(const std::string& boundary,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file);

// POSTs the form of an initiate_form_data answer (`init` is its data: url,
// formData) to its URL, which must be on 127.0.0.1: upgate's own form
// endpoint or the object store's. `via`: another process of the same
// deployment to send it to instead (the URL's path, that process's port).
HttpResponse post_openim_form(const boost::json::object& init, const std::string& file,
                              const HttpClient* via = nullptr);

// The OpenIM API of app `im` of tenant `acme` (base /openim/acme/im).
class OpenIm {
 public:
  // Creates tenant acme (unless it exists) and the app with `settings_json`,
  // and an admin token, through `c`.
  void create(const HttpClient& c, const std::string& settings_json);
  const std::string& admin_token() const { return admin_token_; }

  // One call; every answer is HTTP 200 with the envelope (a test failure otherwise).
  boost::json::object call(const HttpClient& c, const std::string& route,
                           const std::string& body) const;
  static int64_t code(const boost::json::object& envelope);
  static boost::json::object data(const boost::json::object& envelope);

  // initiate_form_data for `name` of `size` bytes; the answer's data.
  boost::json::object initiate(const HttpClient& c, const std::string& name, size_t size,
                               const std::string& content_type = "image/png") const;
  // complete_form_data of an initiate answer; the envelope.
  boost::json::object complete(const HttpClient& c, const boost::json::object& init) const;
  // The bytes behind an OpenIM name, through access_url and its signed link.
  std::string fetch(const HttpClient& c, const std::string& name) const;

 private:
  std::string admin_token_;
};

}  // namespace up::testing::flows
