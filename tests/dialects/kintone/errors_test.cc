#include "dialects/kintone/errors.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace up::dialects::kintone {
namespace {

namespace json = boost::json;

TEST(KintoneErrorsTest, StatusesAndCodes) {
  struct Case {
    Errc code;
    int status;
    const char* wire;
  };
  for (const Case& c :
       {Case{Errc::kBadJson, 400, "CB_IJ01"}, Case{Errc::kBadMultipart, 400, "CB_IL02"},
        Case{Errc::kInvalidArgument, 400, "CB_VA01"}, Case{Errc::kUnauthenticated, 401, "CB_AU01"},
        Case{Errc::kPermissionDenied, 403, "CB_NO02"}, Case{Errc::kAppNotFound, 404, "GAIA_AP01"},
        Case{Errc::kRecordNotFound, 404, "GAIA_RE01"},
        Case{Errc::kRevisionConflict, 409, "GAIA_CO02"},
        Case{Errc::kObjectNotFound, 404, "GAIA_BL01"}, Case{Errc::kStorageIo, 500, "CB_UN01"}}) {
    const WireError w = wire_error(Error(c.code));
    EXPECT_EQ(w.status, c.status) << name_of(c.code);
    EXPECT_STREQ(w.code, c.wire) << name_of(c.code);
  }
}

TEST(KintoneErrorsTest, EnvelopeWithFieldErrors) {
  Failure f(Error(Errc::kInvalidArgument, "Required."), "records[3].title.value");
  auto r = error_response(f);
  EXPECT_EQ(r.status, 400);
  json::object o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("code"), "CB_VA01");
  EXPECT_FALSE(o.at("id").as_string().empty());
  EXPECT_EQ(json::serialize(o.at("errors")),
            R"({"records[3].title.value":{"messages":["Required."]}})");
}

TEST(KintoneErrorsTest, ApiTokenFailuresAreGaiaIa02AndInternalsAreVague) {
  auto r = error_response(bad_api_token("x").value());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body).at("code"), "GAIA_IA02");
  auto i = error_response(Failure(Error(Errc::kStorageIo, "/secret/path broke")));
  EXPECT_EQ(i.body.find("/secret/path"), std::string::npos);
}

}  // namespace
}  // namespace up::dialects::kintone
