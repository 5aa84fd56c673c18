/*
 * Checks a license file at start-up, as a vendor's C application does: the vendor's public
 * key pinned, the token bound to this machine (or to the fingerprint given), the time from the
 * system clock.
 *
 *   check_license VENDOR_PEM LICENSE_FILE PRODUCT [FINGERPRINT]
 *
 * Exit 0 when licensed, 1 when refused (the reason's code is printed), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "licet.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s VENDOR_PEM LICENSE_FILE PRODUCT [FINGERPRINT]\n", argv[0]);
        return 2;
    }
    const char *product = argv[3];
    size_t pem_len, token_len;
    char *pem = slurp(argv[1], &pem_len);
    char *token = slurp(argv[2], &token_len);
    if (!pem || !token) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        free(pem);
        free(token);
        return 2;
    }

    licet_keyset *keys = NULL;
    licet_context *ctx = NULL;
    licet_license *license = NULL;
    licet_error *err = NULL;
    licet_status st;
    if ((st = licet_keyset_new(&keys, &err)) ||
        (st = licet_keyset_add_pem(keys, pem, pem_len, &err)) ||
        (st = licet_context_new((int64_t)time(NULL), product, strlen(product), &ctx, &err)) ||
        (st = argc == 5 ? licet_context_set_fingerprint(ctx, argv[4], strlen(argv[4]), &err)
                        : licet_context_set_this_machine(ctx, &err)) ||
        (st = licet_verify((const uint8_t *)token, token_len, keys, ctx, &license, &err))) {
        printf("not licensed: %s (%s)\n", licet_error_code(err), licet_error_message(err));
    } else {
        licet_str id = licet_license_id(license);
        int64_t until;
        printf("licensed: %.*s", (int)id.len, id.data);
        if (licet_license_expires_at(license, &until)) printf(", until %lld", (long long)until);
        printf("\n");
    }
    licet_error_free(err);
    licet_license_free(license);
    licet_context_free(ctx);
    licet_keyset_free(keys);
    free(pem);
    free(token);
    return st == LICET_STATUS_OK ? 0 : 1;
}
