#pragma once
// The two upload protocols of the OpenIM dialect (spec/openim.md), each with
// its JSON API routes and its S3-compatible endpoint. handler.cc routes to them.

#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "dialects/openim/common.h"
#include "dialects/openim/openim.h"

namespace up::dialects::openim {

// A JSON API route of an upload protocol: POST /object/<route> with `req` its body.
using Route = boost::asio::awaitable<void>;

// What each upload protocol holds. REQUIRES: options.s3_prefix has no trailing '/'.
class UploadProtocol {
 public:
  UploadProtocol(core::Services& services, Options options)
      : s_(services), opts_(std::move(options)) {}

 protected:
  core::Services& s_;
  Options opts_;
};

// OpenIM's form upload: /object/initiate_form_data signs an S3 POST policy,
// the client POSTs the file to the S3-compatible form endpoint
// <s3_prefix>/<bucket>, and /object/complete_form_data binds the OpenIM name
// to the stored key (form_upload.cc). Immutable; shared by every request.
class FormUploads : public UploadProtocol {
 public:
  using UploadProtocol::UploadProtocol;

  // initiate_form_data {name, size, contentType, group, millisecond, absolute}
  Route initiate(http::Exchange& ex, const Context& ctx, const boost::json::object& req) const;
  // complete_form_data {id, urlPrefix}
  Route complete(http::Exchange& ex, const Context& ctx, const boost::json::object& req) const;
  // POST <s3_prefix>/<bucket>: the form itself, answered in S3's XML envelope.
  boost::asio::awaitable<void> post(http::Exchange& ex, const std::string& bucket) const;
};

// OpenIM's multipart upload: /object/initiate_multipart_upload gives an
// uploadID and signed part URLs (or, for content already stored under its
// hash, the URL at once), the client PUTs each part to
// <s3_prefix>/<bucket>/multipart, renews URLs with /object/auth_sign, and
// /object/complete_multipart_upload assembles the parts into one object
// (multipart_upload.cc). Immutable; shared by every request.
class MultipartUploads : public UploadProtocol {
 public:
  using UploadProtocol::UploadProtocol;

  // part_limit
  Route part_limit(http::Exchange& ex) const;
  // part_size {size}
  Route part_size(http::Exchange& ex, const boost::json::object& req) const;
  // initiate_multipart_upload {hash, size, partSize, maxParts, cause, name, contentType, urlPrefix}
  Route initiate(http::Exchange& ex, const Context& ctx, const boost::json::object& req) const;
  // auth_sign {uploadID, partNumbers[]}
  Route auth_sign(http::Exchange& ex, const Context& ctx, const boost::json::object& req) const;
  // complete_multipart_upload {uploadID, parts[], name, contentType, cause, urlPrefix}
  Route complete(http::Exchange& ex, const Context& ctx, const boost::json::object& req) const;
  // PUT <s3_prefix>/<bucket>/multipart?uploadId=&partNumber=&X-Upgate-Expires=&X-Upgate-Signature=
  boost::asio::awaitable<void> put_part(http::Exchange& ex, const std::string& bucket) const;

 private:
  std::string part_url(const Settings& settings) const;
  Result<MultipartUpload> own_upload(const Context& ctx, const std::string& upload_id) const;
  Status assemble(const Context& ctx, const std::string& upload_id, const MultipartUpload& u,
                  const std::vector<std::string>& md5s, const std::string& content_type) const;
  Result<std::pair<MultipartUpload, App>> verify_part(const std::string& upload_id,
                                                      const std::string& bucket, int64_t n,
                                                      const std::string& expires,
                                                      const std::string& signature) const;
};

}  // namespace up::dialects::openim
