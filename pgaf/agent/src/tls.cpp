/*
 * tls.cpp — self-signed certificates with the OpenSSL 3 API, and the SSL-only HBA rewrite after
 * initdb (see tls.hpp for the invariants).
 * Every OpenSSL object is owned by a unique_ptr with its free function: no leak on error paths.
 */
#include "pgaf/agent/tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <memory>
#include <string_view>

#include "pgaf/agent/files.hpp"

namespace pgaf::agent {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
void bio_free(BIO* b) {
  BIO_free(b);
}
using Bio = std::unique_ptr<BIO, Deleter<BIO, bio_free>>;

std::string openssl_error() {
  std::array<char, 256> buf{};
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  ERR_error_string_n(e, buf.data(), buf.size());
  return buf.data();
}

Error tls_error(const std::string& what) {
  return make_error(ErrorCode::Internal, "could not create the TLS certificate: " + what,
                    "use --ssl-ca-file, --server-cert and --server-key instead", openssl_error());
}

Result<std::string> to_pem(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  if (n <= 0 || data == nullptr) return tls_error("empty PEM output");
  return std::string(data, static_cast<std::size_t>(n));
}

Cert read_cert(const std::string& path) {
  auto text = read_file(path);
  if (!text) return nullptr;
  Bio b(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (!b) return nullptr;
  return Cert(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
}

}  // namespace

Status write_self_signed_certificate(const std::string& cert_path, const std::string& key_path,
                                     const std::string& common_name) {
  if (common_name.empty() || common_name.size() > 64) {
    return make_error(ErrorCode::InvalidArgument,
                      "invalid certificate common name \"" + common_name + "\"",
                      "the node's --hostname must be 1 to 64 characters");
  }
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return tls_error("EC key generation failed");
  Cert cert(X509_new());
  if (!cert) return tls_error("X509_new failed");
  if (X509_set_version(cert.get(), 2) != 1) return tls_error("X509_set_version failed");
  /* a random 127-bit serial (RFC 5280: positive, at most 20 octets) */
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_new());
  if (!bn || BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr)
    return tls_error("serial number failed");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return tls_error("X509_set_pubkey failed");
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1)
    return tls_error("setting the common name failed");
  if (X509_set_issuer_name(cert.get(), name) != 1) return tls_error("setting the issuer failed");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return tls_error("signing failed");

  Bio kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
  if (!kb || !cb) return tls_error("BIO_new failed");
  if (PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return tls_error("writing the key failed");
  if (PEM_write_bio_X509(cb.get(), cert.get()) != 1) return tls_error("writing the cert failed");
  auto kpem = to_pem(kb.get());
  if (!kpem) return kpem.error();
  auto cpem = to_pem(cb.get());
  if (!cpem) return cpem.error();
  /* key first: a certificate on disk never refers to a key that is not there yet */
  if (Status s = atomic_write_file(key_path, *kpem, 0600); !s) return s;
  return atomic_write_file(cert_path, *cpem, 0644);
}

std::string certificate_common_name(const std::string& cert_path) {
  Cert c = read_cert(cert_path);
  if (!c) return "";
  std::array<char, 256> buf{};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(c.get()), NID_commonName,
                                          buf.data(), static_cast<int>(buf.size()));
  return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string();
}

bool key_matches_certificate(const std::string& cert_path, const std::string& key_path) {
  Cert c = read_cert(cert_path);
  auto text = read_file(key_path);
  if (!c || !text) return false;
  Bio b(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  if (!b) return false;
  PKey k(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
  return k && X509_check_private_key(c.get(), k.get()) == 1;
}

namespace {
/* Each HBA line whose first word is `from` (followed by a blank) gets `to` as first word instead,
 * leading blanks and the rest of the line kept; other lines are copied as they are. */
std::string rename_hba_connection_type(const std::string& hba, std::string_view from,
                                       std::string_view to) {
  std::string out;
  out.reserve(hba.size() + 64);
  std::size_t pos = 0;
  while (pos < hba.size()) {
    std::size_t end = hba.find('\n', pos);
    end = end == std::string::npos ? hba.size() : end + 1;
    std::string_view line(hba.data() + pos, end - pos);
    const std::size_t lead = line.find_first_not_of(" \t");
    const std::size_t after = lead + from.size();
    if (lead != std::string_view::npos && line.substr(lead, from.size()) == from &&
        line.size() > after && (line[after] == ' ' || line[after] == '\t')) {
      out.append(line.substr(0, lead));
      out.append(to);
      out.append(line.substr(after));
    } else {
      out.append(line);
    }
    pos = end;
  }
  return out;
}
}  // namespace

std::string hba_require_ssl(const std::string& hba) {
  return rename_hba_connection_type(hba, "host", "hostssl");
}

std::string hba_allow_clear_text(const std::string& hba) {
  return rename_hba_connection_type(hba, "hostssl", "host");
}

Status hba_file_require_ssl(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  const std::string t = hba_require_ssl(*text);
  if (t == *text) return Status::Ok();
  return atomic_write_file(path, t, 0600);
}

Status validate_sslmode(const std::string& mode) {
  for (const char* m : {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
    if (mode == m) return Status::Ok();
  return make_error(ErrorCode::InvalidArgument, "invalid --ssl-mode \"" + mode + "\"",
                    "use one of disable, allow, prefer, require, verify-ca, verify-full");
}

}  // namespace pgaf::agent
