/*
 * The online client through the C ABI, one operation per run, as an application's start-up,
 * menu items and offline desk would call it:
 *
 *   online SERVER PRODUCT VENDOR_PEM STATE_DIR COMMAND [ARG...]
 *
 * COMMAND: fingerprint | activate KEY | status | ensure | check-in | heartbeat | deactivate |
 *          verify-stored | request KEY OUT | install FILE | receipt OUT
 *
 * Prints one line ("state=VALID licensed=1", "fingerprint=…", "license=…", "wrote N bytes");
 * a failure prints "error STATUS CODE: MESSAGE" and exits 3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "licet.h"

static const char *state_name(licet_license_state s) {
    switch (s) {
    case LICET_LICENSE_STATE_VALID: return "VALID";
    case LICET_LICENSE_STATE_GRACE: return "GRACE";
    case LICET_LICENSE_STATE_GRACE_ENDED: return "GRACE_ENDED";
    case LICET_LICENSE_STATE_NEEDS_ACTIVATION: return "NEEDS_ACTIVATION";
    case LICET_LICENSE_STATE_REVOKED: return "REVOKED";
    case LICET_LICENSE_STATE_SUSPENDED: return "SUSPENDED";
    case LICET_LICENSE_STATE_EXPIRED: return "EXPIRED";
    case LICET_LICENSE_STATE_CLOCK_ROLLED_BACK: return "CLOCK_ROLLED_BACK";
    case LICET_LICENSE_STATE_INVALID: return "INVALID";
    case LICET_LICENSE_STATE_STATE_ROLLED_BACK: return "STATE_ROLLED_BACK";
    }
    return "?";
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

static int spill(const char *path, const licet_bytes *b) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t n = fwrite(licet_bytes_data(b), 1, licet_bytes_len(b), f);
    fclose(f);
    printf("wrote %zu bytes\n", n);
    return n == licet_bytes_len(b);
}

static int fail(licet_status st, licet_error *err) {
    printf("error %d %s: %s\n", (int)st, licet_error_code(err), licet_error_message(err));
    licet_error_free(err);
    return 3;
}

static void print_status(const licet_license_status *s) {
    printf("state=%s licensed=%d", state_name(s->state), s->licensed ? 1 : 0);
    if (s->code.data) printf(" code=%.*s", (int)s->code.len, s->code.data);
    if (s->state == LICET_LICENSE_STATE_VALID && s->until <= time(NULL)) printf(" until=past");
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s SERVER PRODUCT VENDOR_PEM STATE_DIR COMMAND [ARG...]\n",
                argv[0]);
        return 2;
    }
    const char *server = argv[1], *product = argv[2], *state_dir = argv[4], *cmd = argv[5];
    licet_error *err = NULL;
    licet_status st;
    int rc = 0;

    if (strcmp(cmd, "fingerprint") == 0) {
        char fp[LICET_FINGERPRINT_LEN + 1];
        st = licet_machine_fingerprint(product, strlen(product), fp, sizeof fp, &err);
        if (st) return fail(st, err);
        printf("fingerprint=%s\n", fp);
        return 0;
    }

    size_t pem_len;
    unsigned char *pem = slurp(argv[3], &pem_len);
    licet_keyset *keys = NULL;
    licet_client_config *cfg = NULL;
    licet_client *client = NULL;
    if ((st = licet_keyset_new(&keys, &err)) ||
        (st = licet_keyset_add_pem(keys, (const char *)pem, pem_len, &err)) ||
        (st = licet_client_config_new(server, strlen(server), product, strlen(product), keys,
                                      &cfg, &err)) ||
        (st = licet_client_config_set_state_dir(cfg, state_dir, strlen(state_dir), &err)) ||
        (st = licet_client_config_set_timeout_ms(cfg, 5000, &err)) ||
        (st = licet_client_new(cfg, &client, &err))) {
        rc = fail(st, err);
        goto done;
    }
    /* The configuration was copied into the client. */
    licet_client_config_free(cfg);
    cfg = NULL;

    licet_license_status s;
    licet_bytes *out = NULL;
    if (strcmp(cmd, "activate") == 0 && argc == 7) {
        st = licet_client_activate(client, argv[6], strlen(argv[6]), &s, &err);
    } else if (strcmp(cmd, "status") == 0) {
        st = licet_client_status(client, &s, &err);
    } else if (strcmp(cmd, "ensure") == 0) {
        st = licet_client_ensure(client, &s, &err);
    } else if (strcmp(cmd, "check-in") == 0) {
        st = licet_client_check_in(client, &s, &err);
    } else if (strcmp(cmd, "heartbeat") == 0) {
        st = licet_client_heartbeat(client, &s, &err);
    } else if (strcmp(cmd, "install") == 0 && argc == 7) {
        size_t len;
        unsigned char *response = slurp(argv[6], &len);
        st = licet_client_offline_install(client, response, len, &s, &err);
        free(response);
    } else if (strcmp(cmd, "deactivate") == 0) {
        if ((st = licet_client_deactivate(client, &err))) {
            rc = fail(st, err);
        } else {
            printf("deactivated\n");
        }
        goto done;
    } else if (strcmp(cmd, "request") == 0 && argc == 8) {
        const char *note = "line 3";
        if ((st = licet_client_offline_request(client, argv[6], strlen(argv[6]), note,
                                               strlen(note), &out, &err))) {
            rc = fail(st, err);
        } else if (!spill(argv[7], out)) {
            rc = 4;
        }
        licet_bytes_free(out);
        goto done;
    } else if (strcmp(cmd, "receipt") == 0 && argc == 7) {
        if ((st = licet_client_offline_deactivate(client, &out, &err))) {
            rc = fail(st, err);
        } else if (!spill(argv[6], out)) {
            rc = 4;
        }
        licet_bytes_free(out);
        goto done;
    } else if (strcmp(cmd, "verify-stored") == 0) {
        /* The stored token, checked as an application checks a license file. */
        licet_context *ctx = NULL;
        licet_license *license = NULL;
        if ((st = licet_client_token(client, &out, &err)) ||
            (st = licet_context_new((int64_t)time(NULL), product, strlen(product), &ctx,
                                    &err)) ||
            (st = licet_context_set_this_machine(ctx, &err)) ||
            (st = licet_verify(licet_bytes_data(out), licet_bytes_len(out), keys, ctx, &license,
                               &err))) {
            rc = fail(st, err);
        } else {
            licet_str id = licet_license_id(license);
            licet_str p = licet_license_product(license);
            printf("license=%.*s product=%.*s\n", (int)id.len, id.data, (int)p.len, p.data);
        }
        licet_license_free(license);
        licet_context_free(ctx);
        licet_bytes_free(out);
        goto done;
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        rc = 2;
        goto done;
    }
    if (st) {
        rc = fail(st, err);
    } else {
        print_status(&s);
    }

done:
    licet_client_free(client);
    licet_client_config_free(cfg);
    licet_keyset_free(keys);
    free(pem);
    return rc;
}
