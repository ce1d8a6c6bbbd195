#include "dialects/jodoo/errors.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace up::dialects::jodoo {
namespace {

int code_of(Errc c, Api api = Api::kOther) { return jodoo_error(Error(c), api).code; }

TEST(JodooErrorsTest, MapsToTheGuidesCodes) {
  EXPECT_EQ(code_of(Errc::kUnauthenticated), 8301);
  EXPECT_EQ(code_of(Errc::kKeyNotFound), 17018);
  EXPECT_EQ(code_of(Errc::kKeyDisabled), 17018);
  EXPECT_EQ(code_of(Errc::kAppNotFound), 2004);
  EXPECT_EQ(code_of(Errc::kNotFound), 3000);
  EXPECT_EQ(code_of(Errc::kBadJson), 3005);
  EXPECT_EQ(code_of(Errc::kMissingField), 3005);
  EXPECT_EQ(code_of(Errc::kRecordNotFound), 4001);
  EXPECT_EQ(code_of(Errc::kTransactionMismatch), 17025);
  EXPECT_EQ(code_of(Errc::kObjectNotTemporary), 17025);
  EXPECT_EQ(code_of(Errc::kObjectNotFound), 17025);
  EXPECT_EQ(code_of(Errc::kDuplicateRequest), 17026);
  EXPECT_EQ(code_of(Errc::kTooLarge, Api::kBatchCreate), 17024);
  EXPECT_EQ(code_of(Errc::kTooLarge, Api::kBatchUpdate), 17023);
  EXPECT_EQ(code_of(Errc::kTooLarge, Api::kCreate), 3005);
  EXPECT_EQ(code_of(Errc::kObjectLimit), 7216);
  EXPECT_EQ(code_of(Errc::kQuotaExceeded), 7217);
  EXPECT_EQ(code_of(Errc::kRateLimited, Api::kCompany), 8303);
  EXPECT_EQ(code_of(Errc::kRateLimited, Api::kGetUploadToken), 8304);
  EXPECT_EQ(code_of(Errc::kPermissionDenied), 8302);
  EXPECT_EQ(code_of(Errc::kDiskFull), 17027);
  EXPECT_EQ(jodoo_error(Error(Errc::kMethodNotAllowed), Api::kOther).status, 400);
  EXPECT_EQ(code_of(Errc::kMethodNotAllowed), 1);
}

TEST(JodooErrorsTest, EnvelopeIs400WithCodeAndMsg) {
  auto r = jodoo_error_response(
      Error(Errc::kTransactionMismatch, "file x belongs to another transaction"), Api::kCreate);
  EXPECT_EQ(r.status, 400);
  auto body = boost::json::parse(r.body).as_object();
  EXPECT_EQ(body.at("code").as_int64(), 17025);
  EXPECT_EQ(std::string(body.at("msg").as_string()),
            "Invalid transaction_id Parameter(s): file x belongs to another transaction");
  // Internal detail stays in the log.
  r = jodoo_error_response(Error(Errc::kMetaIo, "sqlite: disk I/O error at /secret/path"),
                           Api::kGet);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST(QiniuErrorsTest, UsesQiniuStatuses) {
  EXPECT_EQ(qiniu_status(Error(Errc::kGrantInvalid)), 401);
  EXPECT_EQ(qiniu_status(Error(Errc::kGrantExpired)), 401);
  EXPECT_EQ(qiniu_status(Error(Errc::kGrantScope)), 403);
  EXPECT_EQ(qiniu_status(Error(Errc::kChecksumMismatch)), 406);
  EXPECT_EQ(qiniu_status(Error(Errc::kTooLarge)), 413);
  EXPECT_EQ(qiniu_status(Error(Errc::kTooSmall)), 403);
  EXPECT_EQ(qiniu_status(Error(Errc::kObjectKeyExists)), 614);
  EXPECT_EQ(qiniu_status(Error(Errc::kGrantUsed)), 614);
  EXPECT_EQ(qiniu_status(Error(Errc::kCallbackFailed)), 579);
  EXPECT_EQ(qiniu_status(Error(Errc::kBadMultipart)), 400);
  EXPECT_EQ(qiniu_status(Error(Errc::kStorageIo)), 599);
  auto r = qiniu_error_response(Error(Errc::kGrantExpired, "token out of date"));
  EXPECT_EQ(r.body, R"({"error":"token out of date"})");
}

}  // namespace
}  // namespace up::dialects::jodoo
