/* Checkpoint -> safetensors (see export.h). */
#include "export.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

#define QUERY_PREFIX "q."

static int is_counter(const ckpt_record *r) {
    static const char tail[] = "num_batches_tracked";
    size_t t = sizeof tail - 1;
    return r->name_len >= t && !memcmp(r->name + r->name_len - t, tail, t);
}

static int is_query(const ckpt_record *r) {
    return r->name_len > 2 && !memcmp(r->name, QUERY_PREFIX, 2) && r->dtype == MOCO_DTYPE_F32;
}

/* Appends to a growing string; returns 0 or -1 on allocation failure. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static int sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
}

int32_t export_safetensors(const char *ckpt, const char *out, int32_t *count, moco_error *err) {
    ckpt_image img;
    int32_t st = ckpt_open(&img, ckpt, err);
    if (st) return st;
    /* Header: tensors in checkpoint (= state_dict) order, offsets packed. */
    sbuf h = {0};
    uint64_t off = 0;
    int32_t n = 0;
    int bad = sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"moco\"}");
    for (uint32_t i = 0; i < img.count && !bad; i++) {
        const ckpt_record *r = &img.records[i];
        if (!is_query(r)) continue;
        uint64_t bytes = is_counter(r) ? 8 : r->bytes;
        bad |= sb_printf(&h, ",\"%.*s\":{\"dtype\":\"%s\",\"shape\":[", (int)r->name_len - 2,
                         r->name + 2, is_counter(r) ? "I64" : "F32");
        if (!is_counter(r))
            for (int d = 0; d < r->ndim; d++)
                bad |= sb_printf(&h, "%s%lld", d ? "," : "", (long long)r->shape[d]);
        bad |= sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                         (unsigned long long)(off + bytes));
        off += bytes;
        n++;
    }
    bad |= sb_printf(&h, "}");
    /* pad the header with spaces to a multiple of 8 so the data is aligned */
    while (!bad && h.len % 8) bad |= sb_printf(&h, " ");
    if (bad) {
        free(h.p);
        ckpt_close(&img);
        return moco_errorf(err, MOCO_ERR_NOMEM, "export: out of memory");
    }
    if (n == 0) {
        free(h.p);
        ckpt_close(&img);
        return moco_errorf(err, MOCO_ERR_FORMAT, "checkpoint '%s': no query-encoder tensors "
                           "(q.*) to export", ckpt);
    }
    size_t total = 8 + h.len + off;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(h.p);
        ckpt_close(&img);
        return moco_errorf(err, MOCO_ERR_NOMEM, "export: out of memory for %zu bytes", total);
    }
    uint64_t hl = h.len;
    memcpy(buf, &hl, 8); /* little-endian host */
    memcpy(buf + 8, h.p, h.len);
    uint8_t *data = buf + 8 + h.len;
    for (uint32_t i = 0; i < img.count; i++) {
        const ckpt_record *r = &img.records[i];
        if (!is_query(r)) continue;
        if (is_counter(r)) {
            float f;
            memcpy(&f, r->payload, 4);
            int64_t v = (int64_t)llroundf(f);
            memcpy(data, &v, 8);
            data += 8;
        } else {
            memcpy(data, r->payload, r->bytes);
            data += r->bytes;
        }
    }
    st = ckpt_write_file(out, buf, total, err);
    free(buf);
    free(h.p);
    ckpt_close(&img);
    if (!st && count) *count = n;
    return st;
}

int export_main(int argc, char **argv) {
    /* argv: export CHECKPOINT --format safetensors OUT */
    const char *ckpt = NULL, *out = NULL, *format = "safetensors";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc)
            format = argv[++i];
        else if (!ckpt)
            ckpt = argv[i];
        else if (!out)
            out = argv[i];
        else
            ckpt = NULL, i = argc; /* too many arguments */
    }
    if (!ckpt || !out) {
        fprintf(stderr, "usage: moco-host export CHECKPOINT [--format safetensors] OUT\n");
        return 2;
    }
    if (strcmp(format, "safetensors")) {
        fprintf(stderr, "moco-host: export: unknown format '%s'. HINT: use --format "
                "safetensors\n", format);
        return 2;
    }
    moco_error err;
    int32_t n = 0;
    if (export_safetensors(ckpt, out, &n, &err)) {
        fprintf(stderr, "moco-host: error: %s\n", err.msg);
        return 1;
    }
    printf("exported %d tensors of the query encoder to %s (safetensors, torchvision names)\n",
           n, out);
    return 0;
}
