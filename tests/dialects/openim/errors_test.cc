#include "dialects/openim/errors.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace up::dialects::openim {
namespace {

namespace json = boost::json;

json::object body_of(const http::Response& r) { return json::parse(r.body).as_object(); }

TEST(OpenImErrorsTest, EveryErrorIsHttp200WithTheEnvelope) {
  const struct {
    Errc code;
    int err_code;
  } cases[] = {
      {Errc::kMissingField, 1001},    {Errc::kBadJson, 1001},
      {Errc::kInvalidArgument, 1001}, {Errc::kPermissionDenied, 1002},
      {Errc::kUnauthenticated, 1002}, {Errc::kObjectKeyExists, 1003},
      {Errc::kObjectNotFound, 1004},  {Errc::kAppNotFound, 1004},
      {Errc::kSizeMismatch, 90007},   {Errc::kGrantExpired, 1501},
      {Errc::kGrantInvalid, 1502},    {Errc::kKeyDisabled, 1506},
      {Errc::kStorageIo, 500},        {Errc::kTooLarge, 1001},
  };
  for (const auto& c : cases) {
    const http::Response r = error_response(Error(c.code, "detail"));
    EXPECT_EQ(r.status, 200);
    const auto o = body_of(r);
    EXPECT_EQ(o.at("errCode").as_int64(), c.err_code) << static_cast<int>(c.code);
    EXPECT_FALSE(o.contains("data"));
    EXPECT_TRUE(o.at("errMsg").is_string());
  }
  EXPECT_EQ(
      body_of(error_response(Error(Errc::kMissingField, "header must have token"))).at("errDlt"),
      "header must have token");
  EXPECT_EQ(body_of(error_response(Error(Errc::kMissingField, "x"))).at("errMsg"), "ArgsError");
  // Internal details stay in the log.
  EXPECT_EQ(body_of(error_response(Error(Errc::kStorageIo, "/data/blobs/x: EIO"))).at("errDlt"),
            "storage I/O error");
}

TEST(OpenImErrorsTest, TokenFaultsKeepTheirCodes) {
  for (TokenFault f : {TokenFault::kExpired, TokenFault::kInvalid, TokenFault::kMalformed,
                       TokenFault::kNotValidYet, TokenFault::kUnknown, TokenFault::kKicked,
                       TokenFault::kNotExist}) {
    const http::Response r = token_error_response(f);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(body_of(r).at("errCode").as_int64(), static_cast<int>(f));
  }
}

TEST(OpenImErrorsTest, OkEnvelope) {
  EXPECT_EQ(ok_response(R"({"url":"u"})").body,
            R"({"errCode":0,"errMsg":"","errDlt":"","data":{"url":"u"}})");
  EXPECT_EQ(ok_response("").body, R"({"errCode":0,"errMsg":"","errDlt":""})");
}

TEST(OpenImErrorsTest, S3ErrorsAreXml) {
  const struct {
    Errc code;
    int status;
    const char* s3;
  } cases[] = {
      {Errc::kGrantInvalid, 403, "SignatureDoesNotMatch"},
      {Errc::kGrantExpired, 403, "AccessDenied"},
      {Errc::kGrantScope, 403, "AccessDenied"},
      {Errc::kTooLarge, 400, "EntityTooLarge"},
      {Errc::kTooSmall, 400, "EntityTooSmall"},
      {Errc::kBadMultipart, 400, "MalformedPOSTRequest"},
      {Errc::kRouteNotFound, 404, "NoSuchBucket"},
  };
  for (const auto& c : cases) {
    const http::Response r =
        s3_error_response(Error(c.code, "a<b"), "openim", "k&1", "/s3/openim", "rid");
    EXPECT_EQ(r.status, c.status);
    EXPECT_NE(r.body.find(std::string("<Code>") + c.s3 + "</Code>"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("<Message>a&lt;b</Message>"), std::string::npos);
    EXPECT_NE(r.body.find("<Key>k&amp;1</Key>"), std::string::npos);
  }
}

}  // namespace
}  // namespace up::dialects::openim
