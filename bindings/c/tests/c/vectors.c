/*
 * The golden vectors through the C ABI: every case of test-vectors/vectors/expected.json and
 * offline.json, read at run time (a new case needs no change here), checked as its reader
 * would check it, and compared with the outcome the file expects.
 *
 *   vectors VECTORS_DIR
 *
 * Prints one line per mismatch and then "N passed, M failed"; exits 0 only when nothing failed
 * and every case of both files ran.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "licet.h"

static const char *dir;

/* The whole of DIR/rel, or NULL; *len is its length. The caller frees it. */
static unsigned char *slurp(const char *rel, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static cJSON *read_json(const char *rel) {
    size_t len;
    unsigned char *text = slurp(rel, &len);
    if (!text) return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    return j;
}

static int unhex(const char *hex, unsigned char *out, size_t n) {
    if (!hex || strlen(hex) != 2 * n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned int b;
        if (sscanf(hex + 2 * i, "%2x", &b) != 1) return 0;
        out[i] = (unsigned char)b;
    }
    return 1;
}

/* The outcome of a call: "valid", or the error's code. */
static void outcome(licet_status st, licet_error *err, char *out, size_t cap) {
    if (st == LICET_STATUS_OK)
        snprintf(out, cap, "valid");
    else
        snprintf(out, cap, "%s", err ? licet_error_code(err) : "(no error object)");
    licet_error_free(err);
}

/* Adds the keys named in `names` (from expected.json's key table) to a new key set. */
static licet_status load_keys(const cJSON *names, const cJSON *table, licet_keyset **out,
                              licet_error **err) {
    licet_status st = licet_keyset_new(out, err);
    if (st != LICET_STATUS_OK) return st;
    const cJSON *name;
    cJSON_ArrayForEach(name, names) {
        const cJSON *info = cJSON_GetObjectItemCaseSensitive(table, name->valuestring);
        const char *pem_file = cJSON_GetObjectItemCaseSensitive(info, "spki_pem")->valuestring;
        size_t len;
        unsigned char *pem = slurp(pem_file, &len);
        st = licet_keyset_add_pem(*out, (const char *)pem, len, err);
        free(pem);
        if (st != LICET_STATUS_OK) return st;
    }
    return LICET_STATUS_OK;
}

static const char *str_or_null(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Builds a token case's context (and its revocation list) as expected.json describes it. */
static licet_status make_context(const cJSON *c, const licet_keyset *keys, licet_context **ctx,
                                 licet_revocations **list, licet_error **err) {
    int64_t now = (int64_t)cJSON_GetObjectItemCaseSensitive(c, "now")->valuedouble;
    const char *product = str_or_null(c, "product");
    licet_status st =
        licet_context_new(now, product, product ? strlen(product) : 0, ctx, err);
    if (st != LICET_STATUS_OK) return st;
    const char *fp = str_or_null(c, "fingerprint");
    if (fp && (st = licet_context_set_fingerprint(*ctx, fp, strlen(fp), err))) return st;
    const char *domain = str_or_null(c, "domain");
    if (domain && (st = licet_context_set_domain(*ctx, domain, strlen(domain), err))) return st;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "entitlements")) {
        if ((st = licet_context_add_entitlement(*ctx, e->valuestring, strlen(e->valuestring),
                                                err)))
            return st;
    }
    const cJSON *leeway = cJSON_GetObjectItemCaseSensitive(c, "leeway");
    if (cJSON_IsNumber(leeway) &&
        (st = licet_context_set_leeway(*ctx, (uint64_t)leeway->valuedouble, err)))
        return st;
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(c, "hwid_parts");
    int n_parts = cJSON_GetArraySize(parts);
    if (n_parts > 0) {
        unsigned char *raw = calloc((size_t)n_parts, 8);
        int i = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, parts) unhex(p->valuestring, raw + 8 * i++, 8);
        st = licet_context_set_hwid_parts(*ctx, raw, (size_t)n_parts, err);
        free(raw);
        if (st) return st;
    }
    const char *device = str_or_null(c, "device_key");
    if (device) {
        unsigned char key[32];
        unhex(device, key, 32);
        if ((st = licet_context_set_device_key(*ctx, key, 32, err))) return st;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "require_device_binding")) &&
        (st = licet_context_require_device_binding(*ctx, err)))
        return st;
    const char *revocations = str_or_null(c, "revocations");
    if (revocations) {
        size_t len;
        unsigned char *bytes = slurp(revocations, &len);
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(c, "last_seen_sequence");
        uint64_t seen_value = cJSON_IsNumber(seen) ? (uint64_t)seen->valuedouble : 0;
        st = licet_revocations_verify(bytes, len, keys, cJSON_IsNumber(seen) ? &seen_value : NULL,
                                      list, err);
        free(bytes);
        if (st) return st;
        bool fresh = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "require_fresh"));
        if ((st = licet_context_set_revocations(*ctx, *list, fresh, err))) return st;
    }
    return LICET_STATUS_OK;
}

static int streq(licet_str s, const char *want) {
    return s.data && s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

/* A verified license against the claims the case lists, if it lists them; NULL when equal. */
static const char *claims_differ(const licet_license *l, const cJSON *claims) {
    if (!claims) return NULL;
    const char *id = str_or_null(claims, "license_id");
    if (id && !streq(licet_license_id(l), id)) return "license_id";
    const char *product = str_or_null(claims, "product");
    if (product && !streq(licet_license_product(l), product)) return "product";
    const cJSON *iat = cJSON_GetObjectItemCaseSensitive(claims, "issued_at");
    if (cJSON_IsNumber(iat) && licet_license_issued_at(l) != (int64_t)iat->valuedouble)
        return "issued_at";
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "expires_at");
    int64_t got_exp = 0;
    bool has_exp = licet_license_expires_at(l, &got_exp);
    if (cJSON_IsNumber(exp) ? (!has_exp || got_exp != (int64_t)exp->valuedouble)
                            : (exp && has_exp))
        return "expires_at";
    const char *cti = str_or_null(claims, "token_id");
    unsigned char want_cti[16], got_cti[16];
    if (cti && (!unhex(cti, want_cti, 16) || !licet_license_token_id(l, got_cti) ||
                memcmp(want_cti, got_cti, 16) != 0))
        return "token_id";
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(claims, "entitlements");
    if (ents) {
        if ((size_t)cJSON_GetArraySize(ents) != licet_license_entitlement_count(l))
            return "entitlements";
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ents) {
            if (!streq(licet_license_entitlement(l, i++), e->valuestring)) return "entitlements";
        }
    }
    return NULL;
}

/* A case passes when every form of it gives the expected outcome. */
static int passed, failed, case_ok;

static void record(const char *name, const char *form, const char *want, const char *got) {
    if (strcmp(want, got) != 0) {
        case_ok = 0;
        printf("FAIL %s (%s): expected %s, got %s\n", name, form, want, got);
    }
}

static void tally(void) {
    if (case_ok)
        passed++;
    else
        failed++;
}

/* One token case, with the token given as `file` (binary, text or armor). */
static void token_case(const cJSON *kase, const cJSON *table, const char *file, const char *form) {
    const char *name = str_or_null(kase, "name");
    const char *want = str_or_null(kase, "expected");
    char got[128];
    licet_error *err = NULL;
    licet_keyset *keys = NULL;
    licet_context *ctx = NULL;
    licet_revocations *list = NULL;
    licet_license *license = NULL;
    licet_status st = load_keys(cJSON_GetObjectItemCaseSensitive(kase, "keys"), table, &keys, &err);
    if (st == LICET_STATUS_OK)
        st = make_context(cJSON_GetObjectItemCaseSensitive(kase, "context"), keys, &ctx, &list,
                          &err);
    if (st == LICET_STATUS_OK) {
        size_t len;
        unsigned char *token = slurp(file, &len);
        st = licet_verify(token, len, keys, ctx, &license, &err);
        free(token);
    }
    outcome(st, err, got, sizeof got);
    if (st == LICET_STATUS_OK) {
        const char *differs =
            claims_differ(license, cJSON_GetObjectItemCaseSensitive(kase, "claims"));
        if (!licet_license_is_verified(license)) differs = "is_verified";
        if (differs) snprintf(got, sizeof got, "valid with another %s", differs);
    }
    record(name, form, want, got);
    licet_license_free(license);
    licet_revocations_free(list);
    licet_context_free(ctx);
    licet_keyset_free(keys);
}

/* One offline case, with the artefact given as `file` (binary or armor). */
static void offline_case(const cJSON *kase, const cJSON *devices, const cJSON *table,
                         const char *file, const char *form) {
    const char *name = str_or_null(kase, "name");
    const char *want = str_or_null(kase, "expected");
    const char *kind = str_or_null(kase, "kind");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(kase, "context");
    int64_t now = (int64_t)cJSON_GetObjectItemCaseSensitive(c, "now")->valuedouble;
    char got[128];
    licet_error *err = NULL;
    licet_status st;
    size_t len;
    unsigned char *bytes = slurp(file, &len);
    if (strcmp(kind, "request") == 0) {
        licet_offline_request *req = NULL;
        st = licet_offline_request_verify(bytes, len, &req, &err);
        if (st == LICET_STATUS_OK) {
            uint64_t window = (uint64_t)cJSON_GetObjectItemCaseSensitive(c, "window")->valuedouble;
            st = licet_offline_request_check_age(req, now, window, &err);
        }
        licet_offline_request_free(req);
    } else if (strcmp(kind, "response") == 0) {
        licet_keyset *keys = NULL;
        licet_context *ctx = NULL;
        licet_offline_request *pending = NULL;
        licet_license *license = NULL;
        st = load_keys(cJSON_GetObjectItemCaseSensitive(c, "keys"), table, &keys, &err);
        if (st == LICET_STATUS_OK) {
            size_t plen;
            unsigned char *p = slurp(str_or_null(c, "pending_request"), &plen);
            st = licet_offline_request_verify(p, plen, &pending, &err);
            free(p);
        }
        const char *product = str_or_null(c, "product");
        const char *fp = str_or_null(c, "fingerprint");
        if (st == LICET_STATUS_OK)
            st = licet_context_new(now, product, strlen(product), &ctx, &err);
        if (st == LICET_STATUS_OK) st = licet_context_set_fingerprint(ctx, fp, strlen(fp), &err);
        if (st == LICET_STATUS_OK)
            st = licet_offline_response_verify(bytes, len, keys, pending, ctx, &license, &err);
        if (st == LICET_STATUS_OK) {
            /* An installed token binds the pending request's device key. */
            unsigned char bound[32], pending_key[32];
            if (!licet_license_device_key(license, bound) ||
                !licet_offline_request_device_key(pending, pending_key) ||
                memcmp(bound, pending_key, 32) != 0) {
                licet_license_free(license);
                license = NULL;
                free(bytes);
                licet_context_free(ctx);
                licet_offline_request_free(pending);
                licet_keyset_free(keys);
                record(name, form, want, "valid without the pending device key");
                return;
            }
        }
        licet_license_free(license);
        licet_context_free(ctx);
        licet_offline_request_free(pending);
        licet_keyset_free(keys);
    } else {
        licet_receipt *receipt = NULL;
        st = licet_receipt_decode(bytes, len, &receipt, &err);
        if (st == LICET_STATUS_OK) {
            const char *holder = str_or_null(c, "holder");
            const char *device = str_or_null(c, "holder_device_key");
            unsigned char key[32];
            int has_key = device && unhex(str_or_null(devices, device), key, 32);
            licet_holder h = strcmp(holder, "machine") == 0   ? LICET_HOLDER_MACHINE
                             : strcmp(holder, "revoked") == 0 ? LICET_HOLDER_REVOKED
                                                              : LICET_HOLDER_REPLACED;
            st = licet_receipt_check(receipt, h, has_key ? key : NULL, has_key ? 32 : 0, &err);
        }
        licet_receipt_free(receipt);
    }
    free(bytes);
    outcome(st, err, got, sizeof got);
    record(name, form, want, got);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    cJSON *expected = read_json("expected.json");
    cJSON *offline = read_json("offline.json");
    if (!expected || !offline) {
        fprintf(stderr, "cannot read expected.json and offline.json in %s\n", dir);
        return 2;
    }
    const cJSON *table = cJSON_GetObjectItemCaseSensitive(expected, "keys");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(expected, "cases");
    const cJSON *offline_cases = cJSON_GetObjectItemCaseSensitive(offline, "cases");
    const cJSON *devices = cJSON_GetObjectItemCaseSensitive(offline, "device_keys");
    const cJSON *kase;
    /* Each token case in its binary and text forms, each offline case binary and armored. */
    cJSON_ArrayForEach(kase, cases) {
        case_ok = 1;
        token_case(kase, table, str_or_null(kase, "token"), "binary");
        token_case(kase, table, str_or_null(kase, "token_text"), "text");
        tally();
    }
    cJSON_ArrayForEach(kase, offline_cases) {
        case_ok = 1;
        offline_case(kase, devices, table, str_or_null(kase, "file"), "binary");
        offline_case(kase, devices, table, str_or_null(kase, "armor"), "armor");
        tally();
    }
    printf("%d passed, %d failed\n", passed, failed);
    int cases_total = cJSON_GetArraySize(cases) + cJSON_GetArraySize(offline_cases);
    cJSON_Delete(expected);
    cJSON_Delete(offline);
    if (passed + failed != cases_total || cases_total == 0) {
        fprintf(stderr, "ran %d of the %d cases\n", passed + failed, cases_total);
        return 1;
    }
    return failed == 0 ? 0 : 1;
}
