// The header from C++: a vendor's C++ application verifying its license file at start-up, with
// the handles owned by std::unique_ptr.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "licet.h"

template <typename T, void (*Free)(T *)> struct Deleter {
    void operator()(T *p) const { Free(p); }
};
using Keys = std::unique_ptr<licet_keyset, Deleter<licet_keyset, licet_keyset_free>>;
using Ctx = std::unique_ptr<licet_context, Deleter<licet_context, licet_context_free>>;
using License = std::unique_ptr<licet_license, Deleter<licet_license, licet_license_free>>;
using Error = std::unique_ptr<licet_error, Deleter<licet_error, licet_error_free>>;

static std::string read(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const std::string dir = argv[1];
    const std::string pem = read(dir + "/keys/ed25519-a.pem");
    const std::string token = read(dir + "/tokens/valid-ed25519.armor");
    const std::string fp = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    licet_keyset *k = nullptr;
    licet_context *c = nullptr;
    licet_license *l = nullptr;
    licet_error *e = nullptr;
    licet_keyset_new(&k, nullptr);
    Keys keys(k);
    licet_keyset_add_pem(keys.get(), pem.data(), pem.size(), nullptr);
    licet_context_new(1800000000, "acme-pro", 8, &c, nullptr);
    Ctx ctx(c);
    licet_context_set_fingerprint(ctx.get(), fp.data(), fp.size(), nullptr);
    licet_context_set_domain(ctx.get(), "example.com", 11, nullptr);
    licet_status st = licet_verify(reinterpret_cast<const uint8_t *>(token.data()), token.size(),
                                   keys.get(), ctx.get(), &l, &e);
    Error err(e);
    License license(l);
    if (st != LICET_STATUS_OK) {
        std::printf("refused: %s\n", licet_error_code(err.get()));
        return 1;
    }
    licet_str id = licet_license_id(license.get());
    std::printf("licensed: %.*s, %zu entitlements\n", static_cast<int>(id.len), id.data,
                licet_license_entitlement_count(license.get()));
    return 0;
}
