/*
 * rankfn.h — the C ABI of the rankfn kernel library.
 *
 * Every backend (cpu, cuda, opencl) implements exactly this header. Rules:
 *   - every function returns rf_status (RF_OK = 0); outputs go through pointers;
 *   - on failure rf_last_error() returns a message for the calling thread;
 *   - no C++ exception, abort or out-of-bounds access crosses this boundary:
 *     a bad index (an embedding id past its table) is an error status;
 *   - matrices are row-major with an explicit leading dimension (elements
 *     between consecutive rows), so an op can read or write a column slice of
 *     a wider buffer (e.g. one table's block of a concatenated feature row);
 *   - ops take an rf_stream; NULL means the backend's default stream. On the
 *     CPU backend an op runs to completion on the library's thread pool before
 *     returning, so rf_stream_sync is a no-op there — except for CPU core-group
 *     streams (rf_stream_create_pool), whose queued commands run asynchronously.
 * Pseudocode in comments uses 0-based indices and fp32 math unless stated.
 */
#ifndef RANKFN_H
#define RANKFN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RF_API __declspec(dllexport)
#else
#define RF_API __attribute__((visibility("default")))
#endif

#define RF_ABI_VERSION 1

typedef int32_t rf_status;
enum {
    RF_OK                = 0,
    RF_ERR_INVALID_ARG   = 1, /* null pointer, negative size, bad enum, ld < cols */
    RF_ERR_OUT_OF_RANGE  = 2, /* an index (embedding id, row index) outside its table */
    RF_ERR_UNSUPPORTED   = 3, /* dtype/op/ISA this backend does not implement */
    RF_ERR_OUT_OF_MEMORY = 4,
    RF_ERR_DEVICE        = 5, /* driver or device failure */
    RF_ERR_INTERNAL      = 6
};

typedef enum {
    RF_F32  = 0,
    RF_F16  = 1, /* IEEE half, stored as uint16 */
    RF_BF16 = 2, /* bfloat16, stored as uint16 */
    RF_I8   = 3, /* int8 GEMM weights: signed, symmetric, per-output-channel fp32 scale */
    RF_U8Q  = 4, /* row-wise quantized embedding rows: see rf_embedding_bag */
    RF_I32  = 5,
    RF_I64  = 6,
    RF_BOOL = 7, /* one byte, 0 or 1 (the general tensor kernels) */
    RF_U4Q  = 8  /* row-wise 4-bit embedding rows: see rf_embedding_bag */
} rf_dtype;

typedef enum {
    RF_ACT_NONE    = 0,
    RF_ACT_RELU    = 1, /* max(x, 0) */
    RF_ACT_GELU    = 2, /* 0.5 x (1 + erf(x / sqrt 2))  (exact form) */
    RF_ACT_SILU    = 3, /* x * sigmoid(x) */
    RF_ACT_SIGMOID = 4, /* 1 / (1 + exp(-x)) */
    RF_ACT_TANH    = 5
} rf_act;

typedef enum {
    RF_POOL_SUM    = 0, /* out = sum_i w_i * row(ids_i) */
    RF_POOL_MEAN   = 1, /* out = (sum_i w_i * row(ids_i)) / count; empty bag -> zeros */
    RF_POOL_GATHER = 2  /* bags of exactly one id: out = w * row(id) (plain lookup) */
} rf_pool;

typedef enum {
    RF_BINARY_ADD = 0,
    RF_BINARY_SUB = 1,
    RF_BINARY_MUL = 2,
    RF_BINARY_DIV = 3,
    RF_BINARY_MAX = 4,
    RF_BINARY_MIN = 5
} rf_binary_op;

typedef enum {
    RF_COPY_HOST_TO_DEVICE   = 0,
    RF_COPY_DEVICE_TO_HOST   = 1,
    RF_COPY_DEVICE_TO_DEVICE = 2,
    RF_COPY_HOST_TO_HOST     = 3
} rf_copy_kind;

/* CPU code paths. RF_ISA_REF is the scalar reference every other path is
 * tested against. RF_ISA_AVX512 needs AVX-512 F/BW/VL/DQ plus BF16 and VNNI. */
typedef enum {
    RF_ISA_REF      = 0,
    RF_ISA_PORTABLE = 1,
    RF_ISA_AVX2     = 2, /* AVX2 + FMA + F16C */
    RF_ISA_AVX512   = 3
} rf_isa;

typedef struct rf_stream_s *rf_stream;
typedef struct rf_weight_s *rf_weight;

/* ---------------------------------------------------------------- library */

/* Message of the last failed call on this thread ("" if none). Never NULL. */
RF_API const char *rf_last_error(void);

/* ABI version (RF_ABI_VERSION), backend name ("cpu"), and the hash of the
 * sources the library was built from (lets the runtime detect a stale build).
 * Strings are static; the caller must not free them. */
RF_API rf_status rf_library_info(int32_t *abi_version, const char **backend, const char **source_hash);

/* ---------------------------------------------------------------- devices */

typedef struct {
    char    name[64];          /* NUL-terminated, e.g. "Intel Xeon (avx512)" */
    int64_t total_memory;      /* bytes */
    int32_t kind;              /* 0 = cpu, 1 = cuda, 2 = opencl */
    int32_t compute_units;     /* cpu: threads of the pool; gpu: SMs / CUs */
    int32_t isa;               /* cpu: rf_isa in use; otherwise 0 */
    int32_t reserved;
} rf_device_info_t;            /* 88 bytes, no padding */

/* Number of devices this backend drives (cpu: 1; cuda without a GPU: 0). */
RF_API rf_status rf_device_count(int32_t *count);
RF_API rf_status rf_device_info(int32_t device, rf_device_info_t *info);

/* Expose the first device as `parts` equal sub-devices (OpenCL: clCreateSubDevices
 * on a device that supports partitioning, e.g. PoCL's CPU), so work can be
 * placed on each with explicit copies between them. Call before the first call
 * that touches a device; parts == 1 keeps the devices as found. A backend that
 * cannot partition returns RF_ERR_UNSUPPORTED for parts > 1 (cpu). */
RF_API rf_status rf_set_device_partitions(int32_t parts);

/* Threads used by the CPU backend's pool (caller thread included); n >= 1.
 * n is clamped to 256. Safe to call between ops, not during one. */
RF_API rf_status rf_set_num_threads(int32_t n);
RF_API rf_status rf_get_num_threads(int32_t *n);

/* CPU code path: best supported is chosen at load; tests force lower ones.
 * Requesting an ISA the CPU lacks returns RF_ERR_UNSUPPORTED. */
RF_API rf_status rf_set_isa(int32_t isa);
RF_API rf_status rf_get_isa(int32_t *active, int32_t *best_supported);

/* ---------------------------------------------------------------- memory and streams */

/* *out = bytes of device memory, 64-byte aligned (bytes == 0 -> a valid unique pointer). */
RF_API rf_status rf_malloc(int32_t device, int64_t bytes, void **out);
RF_API rf_status rf_free(void *p);  /* NULL is a no-op */

/* A hint that host memory [p, p + bytes) will not be read soon (weights just
 * packed from a memory-mapped model file): the whole pages inside it may be
 * reclaimed — file-backed ones are read from the file again if touched. The
 * contents never change; an OS without the hint ignores it.
 *   for each page fully inside [p, p + bytes): madvise(page, MADV_PAGEOUT)  */
RF_API rf_status rf_release_pages(const void *p, int64_t bytes);
/* Copy bytes; ordered on stream s (NULL: synchronous). */
RF_API rf_status rf_memcpy(void *dst, const void *src, int64_t bytes, int32_t kind, rf_stream s);

RF_API rf_status rf_stream_create(int32_t device, rf_stream *out);
/* Wait for the work queued on s. A stream with a pool (rf_stream_create_pool)
 * returns the first failure of its commands since the last sync (message in
 * rf_last_error) and then accepts work again; other CPU streams: no-op. */
RF_API rf_status rf_stream_sync(rf_stream s);
RF_API rf_status rf_stream_destroy(rf_stream s); /* NULL is a no-op; waits for queued work */

/* ---------------------------------------------------------------- queued work, CPU core groups */

typedef enum {
    RF_CMD_GEMM             = 0,
    RF_CMD_GATHER_ROWS      = 1,
    RF_CMD_SCATTER_ADD_ROWS = 2,
    RF_CMD_MEMCPY           = 3,
    RF_CMD_FAIL             = 4,
    RF_CMD_SEQ_ATTENTION    = 5,
    RF_CMD_HSTU_ATTENTION   = 6,
    RF_CMD_EMBEDDING_BAGS   = 7
} rf_cmd_op;

/* The arguments of one queued attention call (RF_CMD_SEQ_ATTENTION,
 * RF_CMD_HSTU_ATTENTION): the parameters of rf_seq_attention_lse /
 * rf_hstu_attention by name. The caller keeps the struct alive and unchanged
 * until rf_stream_sync returns, like every buffer it names. */
typedef struct {
    int64_t        batch, heads, d, dv;
    const float   *q;
    int64_t        ldq;
    const int64_t *q_offsets;
    const float   *k;
    int64_t        ldk;
    const float   *v;
    int64_t        ldv;
    const int64_t *kv_offsets;
    int32_t        mask;
    float          scale;
    const int64_t *num_candidates;
    const float   *rab_table;
    int64_t        num_buckets;
    const int64_t *q_pos;
    const int64_t *kv_pos;
    int64_t        norm_len;  /* RF_CMD_HSTU_ATTENTION only */
    float         *out;
    int64_t        ldo;
    float         *lse;       /* RF_CMD_SEQ_ATTENTION only, may be NULL */
} rf_attention_args_t;        /* 176 bytes, no padding */

/* One queued call of an existing op (rf_stream_enqueue). Fields by op:
 *   RF_CMD_GEMM:             rf_gemm(s, m, a, lda, w, b, arg, c, ldc, d, ldd)
 *                            x = a, bias = b, act = arg, residual = c, y = d
 *   RF_CMD_GATHER_ROWS:      rf_gather_rows(s, m, n, a, lda, k, b, c, d, ldd)
 *                            rows = m, width = n, src = a, src_rows = k, idx = b (int32),
 *                            weights = c, dst = d
 *   RF_CMD_SCATTER_ADD_ROWS: rf_scatter_add_rows(s, m, n, a, lda, b, c, d, ldd, k)
 *                            rows = m, width = n, src = a, idx = b, weights = c, dst = d,
 *                            dst_rows = k
 *   RF_CMD_MEMCPY:           rf_memcpy(d, a, m, arg, s)   bytes = m, kind = arg
 *                            (CPU core groups share host memory: a device-to-device copy)
 *   RF_CMD_FAIL:             fail with status arg (1..6), message "injected fault" (fault
 *                            injection, so the runtime's device-failure path is testable)
 *   RF_CMD_SEQ_ATTENTION:    rf_seq_attention_lse(s, ...*a)   a = const rf_attention_args_t *
 *   RF_CMD_HSTU_ATTENTION:   rf_hstu_attention(s, ...*a)      a = const rf_attention_args_t *
 *                            (a == NULL is RF_ERR_INVALID_ARG before anything is queued)
 *   RF_CMD_EMBEDDING_BAGS:   rf_embedding_bags(s, m, a, n)   num_tables = m,
 *                            tables = a (const rf_bag_table_t [m]), num_bags = n
 *                            (a == NULL with m > 0 is RF_ERR_INVALID_ARG before anything is queued)
 * Fields an op does not name are ignored. */
typedef struct {
    int32_t     op;            /* rf_cmd_op */
    int32_t     arg;
    int64_t     m, n, k;
    int64_t     lda, ldc, ldd;
    const void *a;
    const void *b;
    const void *c;
    void       *d;
    rf_weight   w;
} rf_cmd_t;                    /* 96 bytes, no padding */

/* A CPU core group: a stream that owns a pool of `threads` threads (1..256, its
 * queue thread included) pinned to cpus[0..num_cpus) where the OS allows
 * (num_cpus == 0: unpinned; each cpu in 0..1023). Commands from
 * rf_stream_enqueue run on its queue thread, in order, with the parallel loops
 * of each op on its own pool, so several such streams compute concurrently.
 * Direct op calls naming it run on the caller's thread like on any CPU stream.
 * Backends without core groups return RF_ERR_UNSUPPORTED. */
RF_API rf_status rf_stream_create_pool(int32_t device, int32_t threads, const int32_t *cpus,
                                       int32_t num_cpus, rf_stream *out);

/* Run n commands in order on s. The caller keeps every buffer a command names
 * alive and unchanged until rf_stream_sync(s) returns.
 *   s with a pool: the commands are copied and queued; returns at once; they
 *     run on s's threads and their failures surface at rf_stream_sync
 *   other streams, NULL included: they run now, on the calling thread
 *   for each command i: status = run(cmds[i])
 *     if status != RF_OK: report "command i (op): <message>" with that status,
 *       and skip every later command until the next sync
 * An unknown op is RF_ERR_INVALID_ARG before any command is queued or run. */
RF_API rf_status rf_stream_enqueue(rf_stream s, const rf_cmd_t *cmds, int32_t n);

/* Counters of s (any out pointer may be NULL): busy_ns = time its queue thread
 * spent running commands since creation, commands = commands run, threads =
 * its pool's size (other streams: the library pool's), pinned = 1 when every
 * thread of its pool is pinned to its cpus, else 0. */
RF_API rf_status rf_stream_stats(rf_stream s, int64_t *busy_ns, int64_t *commands, int32_t *threads,
                                 int32_t *pinned);

/* ---------------------------------------------------------------- GEMM */

/* Pack a weight matrix W [n][k] (row-major, row n = output channel n) into the
 * backend's GEMM layout, once, at model load. dtype is the dtype of W:
 *   RF_F32:  float     W[n][k]
 *   RF_BF16: uint16    W[n][k] (bfloat16)
 *   RF_I8:   int8      W[n][k], with scales[n]: real W[j][l] = scales[j] * W[j][l]
 * scales must be NULL unless dtype == RF_I8. The packed copy is owned by the
 * handle; W may be freed afterwards. */
RF_API rf_status rf_weight_pack(int32_t device, int32_t dtype, int64_t n, int64_t k,
                                const void *w, const float *scales, rf_weight *out);
/* Activation groups of a packed int8 weight: the kernels that quantize X per row
 * (the AVX2 vpmaddwd blocked kernel, the AVX-512 vpdpbusd and vpdpwssd tiles) take
 * each row's range per group of columns instead of over the whole row, so a
 * concatenation of differently scaled segments, or a long K with outliers,
 * keeps its resolution:
 *   group g = columns [bounds[g], bounds[g+1]) for g < num_groups
 *   require bounds[0] == 0, bounds[num_groups] == k, strictly increasing,
 *           every inner bound a multiple of 4 (an int8 k-quad), 1 <= num_groups <= 4096
 *   for each row i and group g: s_g, z_g from min/max of X[i][group g] (rf_gemm)
 *   Y[i][j] = Σ_g s_g · scales[j] · Σ_{l in g} (q[i][l] − z_g) · W[j][l]
 * num_groups == 1 is the default (one range per row). Paths that keep X in fp32
 * (reference, portable, OpenCL, CUDA's tiled kernel) or quantize it to int16
 * (AVX2, m <= 24; CUDA through cuBLASLt) accept and ignore the groups. Only RF_I8 weights; call before the weight is shared
 * with concurrent rf_gemm calls. */
RF_API rf_status rf_weight_set_act_groups(rf_weight w, int32_t num_groups, const int64_t *bounds);
/* Activation resolution of a packed int8 weight: the fewest bits rf_gemm
 * quantizes each row (each activation group) of X to.
 *   bits == 8 (the default): u8 levels, q in [0, 255] — the AVX-512 VNNI
 *     vpdpbusd tile, 64 MACs an instruction: the fastest, and the coarsest
 *   bits == 16: int16 levels, q in [0, L] with L = min(32767,
 *     floor(2^31 / (128 * kp)) - 1) (kp = k padded to a multiple of 4), so the
 *     int32 dot products cannot overflow: 15 bits up to k = 512, 12 bits at
 *     k = 4096. The AVX-512 vpdpwssd tile: half the MACs of vpdpbusd, twice
 *     those of fp32 FMA. For layers whose u8 rounding reorders candidates.
 *   s, z, q and Y as for rf_weight_set_act_groups, with 255 replaced by L
 * The AVX2 vpmaddwd kernel honours it the same way (at the same speed either
 * way: it multiplies int16). Paths that keep more than u8 whatever the setting
 * (reference, portable, OpenCL, CUDA's tiled kernel and Zen 1's FMA path:
 * fp32; the AVX2 small-M kernels, m <= 24, and CUDA through cuBLASLt: int16)
 * accept and ignore it. Only RF_I8 weights; call
 * before the weight is shared with concurrent rf_gemm calls. */
RF_API rf_status rf_weight_set_act_bits(rf_weight w, int32_t bits);
/* Shape and dtype of a packed weight (any out pointer may be NULL). */
RF_API rf_status rf_weight_shape(rf_weight w, int64_t *n, int64_t *k, int32_t *dtype);
RF_API rf_status rf_weight_free(rf_weight w); /* NULL is a no-op */

/* Y = act(X · Wᵀ + bias) + residual
 *   for i < m, j < n:
 *     acc = bias ? bias[j] : 0
 *     for l < k: acc += X[i*ldx + l] * W[j][l]
 *     Y[i*ldy + j] = act(acc) + (residual ? residual[i*ldr + j] : 0)
 * X, Y, residual are fp32. bf16 weights are widened to fp32 as they are read
 * (weight-only quantization: X stays fp32); int8 weights: each row of X is
 * quantized over its range (per-row scale and zero point; to u8, or to int16
 * levels with rf_weight_set_act_bits(w, 16)) and dotted with VNNI or vpmaddwd,
 * the result rescaled by both scales.
 * bias, residual may be NULL. residual may alias Y (same pointer, ldr == ldy). */
RF_API rf_status rf_gemm(rf_stream s, int64_t m, const float *x, int64_t ldx, rf_weight w,
                         const float *bias, int32_t act, const float *residual, int64_t ldr,
                         float *y, int64_t ldy);

/* DCN-v2 cross layer over d features:
 *   full rank (u == NULL, w: [d][d]):       t = W·x_l + b
 *   low rank  (w: V [r][d], u: U [d][r]):   t = U·(V·x_l) + b
 *   x_{l+1}[i] = x0[i] ⊙ t + x_l[i]          (per row i < m)
 * y may alias x (in-place, ldy == ldx). bias [d] may be NULL. */
RF_API rf_status rf_cross_layer(rf_stream s, int64_t m, const float *x0, int64_t ldx0,
                                const float *x, int64_t ldx, rf_weight w, rf_weight u,
                                const float *bias, float *y, int64_t ldy);

/* ---------------------------------------------------------------- embeddings */

/* Pooled lookup of bags of ids in one table:
 *   for b < num_bags:
 *     acc = 0; cnt = offsets[b+1] - offsets[b]
 *     for i in offsets[b] .. offsets[b+1]-1:
 *       require 0 <= ids[i] < rows                     (else RF_ERR_OUT_OF_RANGE)
 *       acc += (weights ? weights[i] : 1) * row(ids[i])
 *     out[b*ldo .. b*ldo+dim) = mode == MEAN && cnt > 0 ? acc / cnt : acc
 * offsets: int64 [num_bags + 1], offsets[0] == 0, non-decreasing, last == num_ids.
 * ids: int32 or int64 (id_dtype). Table dtypes and row(r):
 *   RF_F32 / RF_F16 / RF_BF16: table[r*dim + c] converted to fp32
 *   RF_U8Q: row r is dim+4 bytes: q[dim] (uint8), then fp16 scale, fp16 bias;
 *           row(r)[c] = scale * q[c] + bias
 *   RF_U4Q: row r is (dim+1)/2 + 4 bytes (FBGEMM's fused 4-bit rows, unpadded):
 *           q[c] = (byte[c/2] >> 4*(c%2)) & 15 (even columns in the low nibble),
 *           then fp16 scale, fp16 bias; row(r)[c] = scale * q[c] + bias
 * RF_POOL_GATHER requires every bag to hold exactly one id.
 * The out block of dim floats per bag may be a slice of a wider row (ldo >= dim). */
RF_API rf_status rf_embedding_bag(rf_stream s, const void *table, int32_t table_dtype,
                                  int64_t rows, int64_t dim, const void *ids, int32_t id_dtype,
                                  int64_t num_ids, const int64_t *offsets, int64_t num_bags,
                                  const float *weights, int32_t mode, float *out, int64_t ldo);

/* One table's part of a multi-table lookup (pointer fields are 8 bytes). */
typedef struct {
    const void    *table;
    const void    *ids;
    const int64_t *offsets;   /* [num_bags + 1] */
    const float   *weights;   /* per-id weights or NULL */
    float         *out;       /* first bag's output; row stride ldo */
    int64_t        rows;
    int64_t        dim;
    int64_t        num_ids;
    int64_t        ldo;
    int32_t        table_dtype;
    int32_t        id_dtype;
    int32_t        mode;
    int32_t        reserved;
} rf_bag_table_t;             /* 88 bytes */

/* All tables of a model in one call (parallel over tables x bags); every
 * table has num_bags bags. Same semantics as rf_embedding_bag per table. An
 * error names the table index. Typical use: out pointers into one
 * concatenated [num_bags][sum(dim)] buffer. */
RF_API rf_status rf_embedding_bags(rf_stream s, int32_t num_tables, const rf_bag_table_t *tables,
                                   int64_t num_bags);

/* ---------------------------------------------------------------- embedding hot-row cache */

/* A per-device cache of dequantized (fp32) embedding rows of one table, keyed
 * by row id, within a fixed byte budget. Set-associative: row r lives in set
 * hash(r) mod sets, in one of `ways` slots; a full set evicts its least
 * recently used slot. Every call is thread-safe, so concurrent batches may
 * look up and insert at once: writers lock a set, lookups read it under a
 * per-set sequence number and retry if a writer intervened (recency between
 * lookups racing on one set is approximate; one thread sees exact LRU). Sizing:
 *   block_bytes = ceil64(8 + 12*ways)  (lock, clock, keys, LRU stamps: one block per set)
 *   set_bytes   = block_bytes + ways*dim*4
 *   sets = floor(budget_bytes / set_bytes)           (>= 1, else RF_ERR_INVALID_ARG)
 * On the CPU backend `out` of a lookup is host memory. */
typedef struct rf_emb_cache_s *rf_emb_cache;

enum {
    RF_EMB_CACHE_UPDATE_ONLY = 1 /* rf_emb_cache_insert: overwrite cached rows, add none */
};

typedef struct {
    int64_t hits;          /* lookups served from the cache (since create or reset) */
    int64_t misses;        /* lookups not found */
    int64_t insertions;    /* rows added to a free or evicted slot */
    int64_t evictions;     /* rows dropped to make room (LRU within the set) */
    int64_t updates;       /* cached rows overwritten by insert */
    int64_t erased;        /* rows removed by rf_emb_cache_erase / clear */
    int64_t used_rows;     /* rows held now */
    int64_t capacity_rows; /* sets * ways */
    int64_t bytes;         /* memory held (rows, keys, stamps, locks) */
    int64_t sets;
    int32_t ways;
    int32_t reserved;
    int64_t dim;
} rf_emb_cache_stats_t;    /* 96 bytes */

/* Create a cache for rows of `dim` floats of a table of `rows` rows (ids must
 * be in [0, rows)); 1 <= ways <= 64. */
RF_API rf_status rf_emb_cache_create(int32_t device, int64_t rows, int64_t dim, int64_t budget_bytes,
                                     int32_t ways, rf_emb_cache *out);
RF_API rf_status rf_emb_cache_destroy(rf_emb_cache c); /* NULL is a no-op */

/* Whole-batch lookup; ids are int32 or int64 (id_dtype):
 *   *num_misses = 0
 *   for i < n: require 0 <= ids[i] < rows                 (else RF_ERR_OUT_OF_RANGE, nothing written)
 *     if ids[i] is cached: out[i*ldo .. +dim) = its row; it becomes its set's most recent
 *     else:                miss_pos[(*num_misses)++] = i  (out row i untouched; ascending i)
 * miss_pos holds n entries. Duplicated ids are looked up (and counted) each time. A large
 * batch is split over the thread pool, so the recency order it leaves among its
 * own ids within a set is unspecified (the hits and rows are not). */
RF_API rf_status rf_emb_cache_lookup(rf_emb_cache c, int64_t n, const void *ids, int32_t id_dtype,
                                     float *out, int64_t ldo, int64_t *miss_pos, int64_t *num_misses);

/* Insert (or overwrite) rows, dequantized to fp32 on the way in:
 *   for i < n: require 0 <= ids[i] < rows
 *     v = row i of `rows_data`, packed rows of row_dtype (RF_F32/RF_F16/RF_BF16 dim values,
 *         RF_U8Q dim+4 bytes, RF_U4Q (dim+1)/2+4 bytes, as in rf_embedding_bag), converted to fp32
 *     if ids[i] is cached: overwrite it with v (updates++)
 *     else unless flags & RF_EMB_CACHE_UPDATE_ONLY: put v in a free slot of its set, or
 *          evict the set's least recently used row (evictions++); insertions++
 * The inserted row becomes its set's most recent. A later duplicate id wins. */
RF_API rf_status rf_emb_cache_insert(rf_emb_cache c, int64_t n, const void *ids, int32_t id_dtype,
                                     const void *rows_data, int32_t row_dtype, int32_t flags);

/* Remove these ids where cached (others are ignored); n == -1 with ids == NULL clears the cache. */
RF_API rf_status rf_emb_cache_erase(rf_emb_cache c, int64_t n, const void *ids, int32_t id_dtype);

/* Counters and sizes; reset != 0 zeroes hits, misses, insertions, evictions, updates, erased after reading. */
RF_API rf_status rf_emb_cache_stats(rf_emb_cache c, rf_emb_cache_stats_t *out, int32_t reset);

/* ---------------------------------------------------------------- user-history KV store */

/* Cross-request cache of each user's per-layer attention K/V (ranking's
 * prefix cache), keyed by (model version, user id), within fixed byte budgets.
 * A page holds page_tokens consecutive history tokens of one user, every
 * layer, K and V, every head:
 *   page = [layers][2 (K, V)][page_tokens][heads * head_dim] values of the tier's dtype
 *   RF_F32: stored as is; RF_BF16: rounded to nearest even (|err| <= 2^-8 |x|)
 *   RF_I8: one fp32 scale per (page, layer, K|V) block, stored before the values:
 *          q = round(x / scale), scale = max|x| / 127 over the block's first append
 *          (|err| <= scale / 2 = max|x| / 254 for a block written in one append).
 *          A later append to the partly filled page whose values exceed the block's
 *          range requantizes its tokens to max(max|x| / 127, 2 * old scale); the
 *          doubling keeps the summed rounding below the final scale, so
 *          |err| <= 2 * max|x| / 127 over the block however it was appended
 *   page_bytes = (dtype == RF_I8 ? 8*layers : 0) + page_tokens*layers*2*heads*head_dim*size(dtype)
 *   pages      = floor(budget_bytes / (page_bytes + 96)) / shards per shard (>= 1 for the native
 *                tier, else RF_ERR_INVALID_ARG); the 96 bytes are the page's share of the
 *                entry slots, hash table and free lists, so memory held <= budget
 * Users are spread over `shards` by a hash of the key; each shard owns its
 * pages of both tiers and evicts among its own entries.
 *
 * Tiers: the native tier (dtype, budget_bytes) and an optional host tier
 * (host_dtype, host_budget_bytes; 0 = none). An entry lives whole in one tier.
 * When the native tier needs room its least recently used entry moves to the
 * host tier (converted to host_dtype from the native values, so the errors
 * add up), evicting the host tier's least recently used entries as needed;
 * without a host tier, or when it cannot hold the entry, the entry is dropped.
 * A lookup that finds an entry in the host tier copies it out from there and
 * promotes it back into the native tier (when it fits).
 *
 * Eviction is whole-entry, per shard, by `eviction`: RF_KV_EVICT_LRU (the
 * default; a lookup hit or an append makes the entry most recent) or
 * RF_KV_EVICT_LFU_DA (LFU with dynamic aging). Measured by `bun run bench
 * kv-store` (1000 users, Zipf(1.1), 1-4 new events a visit, f32 budgets sized
 * for 50/90/98 % under LRU): with fixed popularity LFU-DA wins 4.0 / 1.6 / 0.2
 * points of hit ratio; when the popular users change every tenth of the run,
 * LRU wins 10.3 / 5.6 / 1.9. Users' activity comes in sessions that start and
 * end, so LRU is the default: it gives up a few points when popularity is
 * fixed and gains more when it moves. (Uses and stamps are bumped by lookups
 * without the lock: under races the order is approximate.)
 *
 * Concurrency: every call is thread-safe. Writers (append, erase, promotion,
 * the drop of a mismatched entry) take their shard's lock. Lookups take none
 * on the native tier: they read the shard's hash table under its sequence
 * number and each entry's pages under the entry's own sequence number, and
 * retry if a writer intervened, so concurrent batches only contend on a
 * shard's recency clock. A host-tier hit takes the shard lock (it promotes).
 *
 * Jagged K/V layout of lookup and append buffers (the layout rf_seq_attention
 * and rf_hstu_attention read: token row t holds every head):
 *   K of layer l, token row t, head h = k[l*layer_stride + t*ld + h*head_dim .. +head_dim)
 *   (V likewise), ld >= heads*head_dim, layer_stride >= 0 (a buffer per layer
 *   at a fixed stride; layer_stride = total_rows*ld packs [layers][total_rows][heads*head_dim]).
 *
 * Prefix fingerprints: fp(n) = the chained hash of a history's first n events,
 * from rf_kv_store_fingerprint. An entry stores the fp of the tokens it holds;
 * a lookup reuses an entry only if the request's fp at that length equals it. */
typedef struct rf_kv_store_s *rf_kv_store;

enum {
    RF_KV_EVICT_LRU    = 0, /* victim: the oldest last use */
    RF_KV_EVICT_LFU_DA = 1  /* victim: the lowest priority, priority = age + uses, where a
                               shard's age becomes each victim's priority (LFU with dynamic
                               aging); ties: the oldest last use */
};

typedef struct {
    int32_t layers;            /* 1..1024 */
    int32_t heads;             /* 1..1024 */
    int32_t head_dim;          /* 1..4096, heads*head_dim <= 65536 */
    int32_t page_tokens;       /* 1..65536 */
    int32_t dtype;             /* native tier: RF_F32, RF_BF16 or RF_I8 */
    int32_t host_dtype;        /* host tier: RF_F32, RF_BF16 or RF_I8 (ignored without one) */
    int32_t shards;            /* 1..256 */
    int32_t eviction;          /* RF_KV_EVICT_LRU or RF_KV_EVICT_LFU_DA */
    int64_t budget_bytes;      /* native tier */
    int64_t host_budget_bytes; /* host tier, 0 = none */
} rf_kv_store_config_t;        /* 48 bytes */

/* One user's append (rf_kv_store_append). */
typedef struct {
    uint64_t user;
    int64_t  start;      /* tokens the entry holds before this append; 0 starts a new entry */
    int64_t  count;      /* new tokens, >= 1 */
    int64_t  src_row;    /* row of the first new token in k / v */
    uint64_t prefix_fp;  /* fp(start) of the history (ignored when start == 0) */
    uint64_t fp;         /* fp(start + count) */
} rf_kv_append_t;        /* 48 bytes */

typedef struct {
    int64_t hits;            /* lookups that reused a cached prefix (either tier) */
    int64_t misses;          /* lookups with nothing reusable (no entry, or a mismatch) */
    int64_t host_hits;       /* hits served from the host tier (copied back, promoted when it fits) */
    int64_t tokens_reused;   /* cached tokens returned by lookups */
    int64_t tokens_computed; /* tokens passed to append (the caller computed them), stored or not */
    int64_t mismatches;      /* entries dropped because the request's fingerprint differed */
    int64_t evictions;       /* entries leaving the native tier for room (to the host tier or dropped) */
    int64_t host_evictions;  /* entries dropped from the host tier for room */
    int64_t appends_skipped; /* append items not stored: stale start / prefix_fp, or larger than a shard */
    int64_t entries;         /* entries held now in the native tier */
    int64_t host_entries;    /* ... in the host tier */
    int64_t bytes_used;      /* native pages in use * page_bytes */
    int64_t host_bytes_used; /* host pages in use * host page bytes */
    int64_t bytes;           /* memory held by the native tier (pages and metadata) */
    int64_t host_bytes;      /* memory held by the host tier */
    int64_t pages;           /* native pages, all shards */
    int64_t host_pages;      /* host pages, all shards */
    int64_t page_bytes;      /* bytes of one native page */
    int64_t host_page_bytes; /* bytes of one host page */
    int64_t reserved;
} rf_kv_store_stats_t;       /* 160 bytes */

/* Create a store (device: 0; on the CPU backend and the OpenCL library the
 * store is host memory and lookups write host buffers). */
RF_API rf_status rf_kv_store_create(int32_t device, const rf_kv_store_config_t *config, rf_kv_store *out);
RF_API rf_status rf_kv_store_destroy(rf_kv_store st); /* NULL is a no-op */

/* Prefix fingerprints of a batch of jagged histories (events of user b are
 * [offsets[b], offsets[b+1]), int64 offsets [batch + 1] from 0, non-decreasing):
 *   mix(x): x ^= x >> 30; x *= 0xbf58476d1ce4e5b9; x ^= x >> 27; x *= 0x94d049bb133111eb; x ^= x >> 31
 *   for b < batch: h = 0x9e3779b97f4a7c15
 *     for i in offsets[b] .. offsets[b+1]-1:
 *       h = mix(mix(h ^ (uint64)ids[i]) ^ (uint64)timestamps[i]);  fp[i] = h
 * so fp[offsets[b] + n - 1] is fp(n) of user b (uint64 arithmetic modulo 2^64). */
RF_API rf_status rf_kv_store_fingerprint(int64_t batch, const int64_t *offsets, const int64_t *ids,
                                         const int64_t *timestamps, uint64_t *fp);

/* Batch lookup. The request history of user b has n_b = hist_offsets[b+1] - hist_offsets[b]
 * events with fingerprints hist_fp[hist_offsets[b] .. +n_b) (from rf_kv_store_fingerprint):
 *   for b < batch: e = entry (version, users[b])
 *     if no e:                                   cached_len[b] = 0 (miss)
 *     elif e.len > n_b or hist_fp[hist_offsets[b] + e.len - 1] != e.fp:
 *                                                drop e (mismatches++); cached_len[b] = 0 (miss)
 *     else:                                      cached_len[b] = L = e.len (hit; tokens_reused += L)
 *       if k: K of layer l, token t < L -> row kv_offsets[b] + t of k (layout above); v likewise
 *       e becomes most recent (a host-tier entry is promoted)
 * k and v are both given or both NULL (NULL: lengths only, nothing copied,
 * kv_offsets may be NULL). Given, kv_offsets is int64 [batch + 1] non-decreasing
 * with kv_offsets[b+1] - kv_offsets[b] >= n_b (room for the whole history; the
 * caller computes rows L.. itself). Rows past L are not written. Arguments are
 * checked before anything is read or dropped. */
RF_API rf_status rf_kv_store_lookup(rf_kv_store st, uint64_t version, int64_t batch, const uint64_t *users,
                                    const int64_t *hist_offsets, const uint64_t *hist_fp, float *k, float *v,
                                    int64_t ld, int64_t layer_stride, const int64_t *kv_offsets,
                                    int64_t *cached_len);

/* Store the K/V of new history tokens (quantized to the tier's dtype):
 *   for i < n (in order; item = items[i], e = entry (version, item.user)):
 *     tokens_computed += item.count
 *     if item.start == 0: drop e if any; e = a new entry of the item's tokens
 *     elif e and e.len == item.start and e.fp == item.prefix_fp: append the tokens to e
 *     else: skip (appends_skipped++): the entry changed since the caller's lookup
 *     an entry needing more pages than a shard's native tier holds is skipped too
 *     the item's token j (j < count) is row item.src_row + j of k / v (layout above)
 *     e.fp = item.fp; e.len = start + count; e becomes most recent
 *     stored[i] = 1 if stored, else 0 (stored may be NULL)
 * Room is made by eviction (see above), never of the entry being appended. */
RF_API rf_status rf_kv_store_append(rf_kv_store st, uint64_t version, int64_t n, const rf_kv_append_t *items,
                                    const float *k, const float *v, int64_t ld, int64_t layer_stride,
                                    int32_t *stored);

/* Drop the entries of (version, users[i]) for i < n where held; n == -1 with
 * users == NULL drops every entry of `version` (a retired model version). */
RF_API rf_status rf_kv_store_erase(rf_kv_store st, uint64_t version, int64_t n, const uint64_t *users);

/* Counters (since create or reset) and sizes; reset != 0 zeroes hits .. appends_skipped after reading. */
RF_API rf_status rf_kv_store_stats(rf_kv_store st, rf_kv_store_stats_t *out, int32_t reset);

/* ---------------------------------------------------------------- interaction, norms */

/* DLRM dot interaction over f feature vectors of d floats per sample:
 *   for b < m: v_p = x[b*ldx + p*d .. +d) for p < f
 *     o = 0
 *     if concat_dense: out[b*ldo + o .. +d) = v_0; o += d
 *     for i in 1..f-1 (self_interaction: 0..f-1):
 *       for j in 0..i-1 (self_interaction: 0..i):  out[b*ldo + o++] = dot(v_i, v_j)
 * Output width: (concat_dense ? d : 0) + f(f-1)/2 (self_interaction: f(f+1)/2). */
RF_API rf_status rf_dot_interaction(rf_stream s, int64_t m, int64_t f, int64_t d,
                                    const float *x, int64_t ldx, int32_t concat_dense,
                                    int32_t self_interaction, float *out, int64_t ldo);

/* GRU recurrence over each row's sequence of `steps` inputs (ONNX GRU, one direction,
 * default sigmoid/tanh; gate blocks z | r | n of h each):
 *   gx: per row, steps × 3h: x_t·Wᵀ + Wb of every step t, precomputed (one GEMM)
 *   rt: [h, 3h], the recurrent weights transposed (rt[k*3h + i] = R[i][k]); rb: [3h] or NULL (zeros)
 *   h0: per row, the initial state (h values at h0[b*ldh0]), or NULL (zeros)
 *   for each row b:  hs = h0 ? h0[b*ldh0 .. +h) : 0
 *     for t in 0..steps-1 (reverse: steps-1 down to 0):   g = gx[b*ldgx + t*3h ..]
 *       gh[i] = rb[i] + sum_k hs[k] * rt[k*3h + i]                       (i < 3h)
 *       z = sigmoid(g_z + gh_z);  r = sigmoid(g_r + gh_r)
 *       n = tanh(g_n + r ⊙ gh_n)                                          (linear_before_reset = 1)
 *       n = tanh(g_n + rb_n + sum_k (r ⊙ hs)[k] * rt[k*3h + 2h + i])     (linear_before_reset = 0)
 *       hs = (1 - z) ⊙ n + z ⊙ hs;   y[b*ldy + t*h .. +h) = hs */
RF_API rf_status rf_gru_sequence(rf_stream s, int64_t m, int64_t steps, int64_t h,
                                 const float *gx, int64_t ldgx, const float *rt, const float *rb,
                                 const float *h0, int64_t ldh0, int32_t linear_before_reset,
                                 int32_t reverse, float *y, int64_t ldy);

/* Layer norm over each row of n values:
 *   mu = mean(x_i); var = mean((x_i - mu)^2)
 *   y_i[j] = (x_i[j] - mu) / sqrt(var + eps) * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0) */
RF_API rf_status rf_layer_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx,
                               const float *gamma, const float *beta, float eps,
                               float *y, int64_t ldy);

/* RMS norm: y_i[j] = x_i[j] / sqrt(mean(x_i^2) + eps) * (gamma ? gamma[j] : 1) */
RF_API rf_status rf_rms_norm(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx,
                             const float *gamma, float eps, float *y, int64_t ldy);

/* Softmax over each row: y_i[j] = exp(x_i[j] - max_i) / sum_l exp(x_i[l] - max_i) */
RF_API rf_status rf_softmax(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx,
                            float *y, int64_t ldy);

/* Top-k per row (1 <= k <= n): the k largest values in descending order, ties
 * broken by the lower index; NaN counts as smaller than every number.
 *   values[i*ldk + t] = x_i[idx_t], indices[i*ldk + t] = idx_t (int32) */
RF_API rf_status rf_topk(rf_stream s, int64_t m, int64_t n, int64_t k, const float *x,
                         int64_t ldx, float *values, int32_t *indices, int64_t ldk);

/* DIN target attention, the per-candidate part (the per-row projections
 * qp = Wq·q + b1 and kp = Wk·k are GEMMs done before). For candidate i of
 * request r = request_of_row[i] (0 <= r < requests):
 *   for t < T, where mask[r*ldm + t] != 0:
 *     u   = q_i ⊙ k_{r,t}                      (k_{r,t} = keys[r*ldk + t*d .. +d))
 *     hid = act(qp[i*ldqp ..+h) + kp[(r*T + t)*h ..+h) + Wqk · u)   (Wqk: [h][d])
 *     a_t = mask[r*ldm + t] * (w2 · hid + b2)
 *   out[i*ldo .. +d) = Σ_t a_t k_{r,t}         (masked steps contribute nothing) */
RF_API rf_status rf_target_attention(rf_stream s, int64_t n, int64_t T, int64_t d, int64_t h,
                                     const float *q, int64_t ldq, const float *keys, int64_t ldk,
                                     const float *mask, int64_t ldm, const int32_t *request_of_row,
                                     int64_t requests, const float *qp, int64_t ldqp, const float *kp,
                                     const float *wqk, const float *w2, float b2, int32_t act,
                                     float *out, int64_t ldo);

/* ---------------------------------------------------------------- sequence and generative ranking */

/* Jagged sequences (no padding): batch item b owns query rows
 * [q_offsets[b], q_offsets[b+1]) and key/value rows [kv_offsets[b], kv_offsets[b+1])
 * (int64 offsets [batch + 1], non-negative, non-decreasing). nq_b and nk_b are
 * those counts. Row t holds every head: head h of Q row t is
 * q[t*ldq + h*d .. +d) (K likewise with ldk, V with ldv and width dv, out with
 * ldo and width dv), so Q, K, V may be column slices of one fused QKV buffer
 * and K/V may come from a cache. ldq, ldk >= heads*d; ldv, ldo >= heads*dv.
 *
 * Query i of item b sits at position p = i + nk_b - nq_b of its kv sequence
 * (aligned to the END: new queries over cached K/V). Visible kv j (0 <= j < nk_b):
 *   RF_SEQ_MASK_NONE:   every j
 *   RF_SEQ_MASK_CAUSAL: j <= p
 *   RF_SEQ_MASK_FALCON: M-FALCON. nc = num_candidates[b] (0 <= nc <= nk_b),
 *     nh = nk_b - nc: kv [0, nh) is the history, [nh, nk_b) the candidates.
 *     p <  nh (a history query): j <= p            (causal within the history)
 *     p >= nh (a candidate):     j < nh or j == p  (the history and itself,
 *                                                   never another candidate)
 * A query with no visible kv (p < 0, an empty history) gets zeros.
 *
 * Relative-position bias (rab, optional): rab_table [heads][num_buckets]
 * (row stride num_buckets); positions qp = q_pos ? q_pos[q_offsets[b] + i] : p and
 * kp = kv_pos ? kv_pos[kv_offsets[b] + j] : j (int64; q_pos and kv_pos are both
 * given or both NULL). Log buckets (T5 / HSTU style, exact for 0 and 1):
 *   delta = |qp - kp|
 *   bucket = min(num_buckets - 1, delta == 0 ? 0 : 1 + floor(log2(delta)))
 *          (= the bit width of delta: 0 -> 0, 1 -> 1, 2..3 -> 2, 4..7 -> 3, ...)
 *   rab(h, i, j) = rab_table[h*num_buckets + bucket]; without a table rab = 0. */
typedef enum {
    RF_SEQ_MASK_NONE   = 0,
    RF_SEQ_MASK_CAUSAL = 1,
    RF_SEQ_MASK_FALCON = 2
} rf_seq_mask;

/* Fused multi-head softmax attention over jagged sequences, flash-style
 * (tiled, online softmax: scratch O(tile) per thread, never O(L^2)):
 *   for b < batch, h < heads, i < nq_b (t = q_offsets[b] + i):
 *     s_j = scale * dot(Q[t, h], K[kv_offsets[b] + j, h]) + rab(h, i, j)   for visible j
 *     out[t, h] = Σ_j softmax_j(s) V[kv_offsets[b] + j, h]   (zeros if nothing is visible)
 * num_candidates [batch] is required for RF_SEQ_MASK_FALCON, ignored otherwise. */
RF_API rf_status rf_seq_attention(rf_stream s, int64_t batch, int64_t heads, int64_t d, int64_t dv,
                                  const float *q, int64_t ldq, const int64_t *q_offsets,
                                  const float *k, int64_t ldk, const float *v, int64_t ldv,
                                  const int64_t *kv_offsets, int32_t mask, const int64_t *num_candidates,
                                  float scale, const float *rab_table, int64_t num_buckets,
                                  const int64_t *q_pos, const int64_t *kv_pos, float *out, int64_t ldo);

/* HSTU pointwise attention (no softmax), fused and tiled the same way:
 *   n = norm_len > 0 ? norm_len (the padded max length, as generative-recommenders does)
 *                    : nk_b (this item's kv length)
 *   out[t, h] = Σ_{visible j} SiLU(scale * dot(Q[t, h], K[j, h]) + rab(h, i, j)) / n · V[j, h]
 * Masks, offsets, strides and rab as for rf_seq_attention. norm_len >= 0. */
RF_API rf_status rf_hstu_attention(rf_stream s, int64_t batch, int64_t heads, int64_t d, int64_t dv,
                                   const float *q, int64_t ldq, const int64_t *q_offsets,
                                   const float *k, int64_t ldk, const float *v, int64_t ldv,
                                   const int64_t *kv_offsets, int32_t mask, const int64_t *num_candidates,
                                   float scale, const float *rab_table, int64_t num_buckets,
                                   const int64_t *q_pos, const int64_t *kv_pos, int64_t norm_len,
                                   float *out, int64_t ldo);

/* rf_seq_attention that also returns each row's log-sum-exp, so attention
 * over kv split into shards (sequence parallelism: a shard per device) merges
 * exactly with rf_attention_merge. Arguments as rf_seq_attention, plus
 * lse [q_rows][heads] (row t, head h at lse[t*heads + h]; NULL: not written):
 *   lse[t, h] = log Σ_{visible j} exp(s_j)   (natural log; -inf if nothing is visible)
 * A kv shard [j0, j1) of an item is a call with kv_offsets over the shard's
 * rows and kv_pos its absolute positions (so the relative bias is unchanged). */
RF_API rf_status rf_seq_attention_lse(rf_stream s, int64_t batch, int64_t heads, int64_t d, int64_t dv,
                                      const float *q, int64_t ldq, const int64_t *q_offsets,
                                      const float *k, int64_t ldk, const float *v, int64_t ldv,
                                      const int64_t *kv_offsets, int32_t mask, const int64_t *num_candidates,
                                      float scale, const float *rab_table, int64_t num_buckets,
                                      const int64_t *q_pos, const int64_t *kv_pos, float *out, int64_t ldo,
                                      float *lse);

/* Merge attention outputs of `parts` kv shards (sequence parallelism). Part p,
 * row t, head h: x[p*part_stride + t*ldx + h*dv .. +dv); its log-sum-exp
 * lse[p*lse_stride + t*heads + h] (rf_seq_attention_lse).
 *   lse == NULL (HSTU's pointwise attention, each part computed with the
 *   GLOBAL norm_len so the parts add exactly):
 *     out[t, h] = Σ_p x_p[t, h]
 *   else (softmax):
 *     M = max_p lse_p[t, h]
 *     M == -inf: out[t, h] = 0                    (no part saw any kv)
 *     else:      w_p = exp(lse_p[t, h] - M)      (exp(-inf) = 0: an empty shard)
 *                out[t, h] = Σ_p w_p x_p[t, h] / Σ_p w_p
 * parts >= 1; ldx, ldo >= heads*dv; part_stride >= 0; lse_stride >= rows*heads.
 * out may be part 0 itself (out == x, ldo == ldx); no other overlap. */
RF_API rf_status rf_attention_merge(rf_stream s, int64_t parts, int64_t rows, int64_t heads, int64_t dv,
                                    const float *x, int64_t ldx, int64_t part_stride, const float *lse,
                                    int64_t lse_stride, float *out, int64_t ldo);

/* HSTU's gate: layer norm of each row, times a gate row (y may alias x or u):
 *   mu = mean(x_i); var = mean((x_i - mu)^2)
 *   y_i[j] = ((x_i[j] - mu) / sqrt(var + eps) * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0)) * u_i[j] */
RF_API rf_status rf_norm_gate(rf_stream s, int64_t m, int64_t n, const float *x, int64_t ldx,
                              const float *u, int64_t ldu, const float *gamma, const float *beta,
                              float eps, float *y, int64_t ldy);

/* RankMixer's parameter-free multi-head token mixing (arXiv 2507.15551, §3.2):
 * each of T tokens of dim D is split into H heads of dh = D / H (D % H == 0);
 * output token h is the concatenation of head h of every token, in token order,
 * so there are H output tokens of dim T*dh (H == T keeps the shape, the paper's
 * setting, ready for the residual LN(mix(X) + X)). Per row i < m:
 *   y[i*ldy + h*T*dh + t*dh + c] = x[i*ldx + t*D + h*dh + c]   for h < H, t < T, c < dh
 * y must not overlap x. */
RF_API rf_status rf_token_mix(rf_stream s, int64_t m, int64_t T, int64_t D, int64_t H,
                              const float *x, int64_t ldx, float *y, int64_t ldy);

/* Grouped GEMM (RankMixer's per-token FFNs): `groups` GEMMs of the same shape,
 * each with its own packed weight w[g] ([n][k], every w[g] of equal n, k, any dtype):
 *   for g < groups, i < m, j < n:
 *     X_g = x + g*x_group_stride, Y_g = y + g*y_group_stride
 *     Y_g[i*ldy + j] = act(X_g[i*ldx ..+k) · W_g[j] + (bias ? bias[g*bias_group_stride + j] : 0))
 * Token-interleaved rows [m][groups*k] -> [m][groups*n]: x_group_stride = k, ldx = groups*k,
 * y_group_stride = n, ldy = groups*n; token-major [groups][m][k]: x_group_stride = m*ldx.
 * Strides >= 0; the Y_g blocks must not overlap each other or any X_g. */
RF_API rf_status rf_grouped_gemm(rf_stream s, int64_t groups, int64_t m, const float *x, int64_t ldx,
                                 int64_t x_group_stride, const rf_weight *w, const float *bias,
                                 int64_t bias_group_stride, int32_t act, float *y, int64_t ldy,
                                 int64_t y_group_stride);

/* ---------------------------------------------------------------- MoE dispatch / combine */

/* Gather rows (MoE dispatch):
 *   for i < n: require 0 <= idx[i] < src_rows
 *     dst[i*ldd + c] = (weights ? weights[i] : 1) * src[idx[i]*lds + c]   for c < d */
RF_API rf_status rf_gather_rows(rf_stream s, int64_t n, int64_t d, const float *src, int64_t lds,
                                int64_t src_rows, const int32_t *idx, const float *weights,
                                float *dst, int64_t ldd);

/* Scatter-add rows (MoE combine):
 *   for i < n: require 0 <= idx[i] < dst_rows
 *     dst[idx[i]*ldd + c] += (weights ? weights[i] : 1) * src[i*lds + c]   for c < d
 * Repeated indices accumulate; the result does not depend on thread count. */
RF_API rf_status rf_scatter_add_rows(rf_stream s, int64_t n, int64_t d, const float *src,
                                     int64_t lds, const int32_t *idx, const float *weights,
                                     float *dst, int64_t ldd, int64_t dst_rows);

/* ---------------------------------------------------------------- elementwise */

/* y[i*ldy + j] = op(a[i*lda + j], b[i*ldb + j]) for i < m, j < n.
 * ldb == 0 broadcasts b's single row to every row (e.g. a bias or a context row).
 * y may alias a. */
RF_API rf_status rf_binary(rf_stream s, int32_t op, int64_t m, int64_t n, const float *a,
                           int64_t lda, const float *b, int64_t ldb, float *y, int64_t ldy);

/* y[i*ldy + j] = act(x[i*ldx + j]); y may alias x. */
RF_API rf_status rf_activation(rf_stream s, int32_t act, int64_t m, int64_t n, const float *x,
                               int64_t ldx, float *y, int64_t ldy);

/* ---------------------------------------------------------------- general tensor kernels */

/* Conventions of this section: rank in 0..8; `shape` and every `*_strides` are
 * int64 arrays of `rank` elements; strides count ELEMENTS (0 broadcasts along
 * that axis, negative walks a reversed view). Element dtypes: RF_F32, RF_I32,
 * RF_I64, RF_BOOL (per op). A zero-sized shape is a valid no-op. Outputs never
 * alias inputs unless stated. For an index i over `shape` (row-major order),
 * off_t(i) = sum_d i_d * t_strides[d]. */

typedef enum {
    RF_UNARY_NEG = 0, RF_UNARY_ABS = 1, RF_UNARY_SQRT = 2, RF_UNARY_EXP = 3, RF_UNARY_LOG = 4, RF_UNARY_ERF = 5,
    RF_UNARY_RELU = 6, RF_UNARY_SIGMOID = 7, RF_UNARY_TANH = 8,
    RF_UNARY_NOT = 9,            /* bool */
    RF_UNARY_RECIPROCAL = 10, RF_UNARY_FLOOR = 11, RF_UNARY_CEIL = 12, RF_UNARY_SIGN = 13,
    RF_UNARY_CLIP = 14,          /* min(max(x, alpha), beta) */
    RF_UNARY_LEAKY_RELU = 15,    /* x < 0 ? alpha*x : x */
    RF_UNARY_SIN = 16, RF_UNARY_COS = 17,
    RF_UNARY_GELU = 18,          /* 0.5 x (1 + erf(x / sqrt 2)) */
    RF_UNARY_SILU = 19,          /* x * sigmoid(x) */
    RF_UNARY_ROUND = 20,         /* half to even */
    RF_UNARY_ISNAN = 21,         /* -> bool */
    RF_UNARY_SOFTPLUS = 22,      /* log(1 + exp(x)) */
    RF_UNARY_HARDSIGMOID = 23    /* max(0, min(1, alpha*x + beta)) */
} rf_unary_op;

/* y = op(x) elementwise over shape:
 *   for each index i of shape: y[off_y(i)] = op(x[off_x(i)], alpha, beta)
 * dtype: f32 (every op but NOT), i32/i64 (NEG ABS SIGN CLIP RELU; CLIP bounds
 * alpha/beta rounded to the nearest integer), bool (NOT). ISNAN reads f32 and
 * writes bool. y may alias x when both have the same strides. */
RF_API rf_status rf_unary_nd(rf_stream s, int32_t op, int32_t dtype, int32_t rank, const int64_t *shape,
                             const void *x, const int64_t *x_strides, float alpha, float beta,
                             void *y, const int64_t *y_strides);

typedef enum {
    RF_BIN_ADD = 0, RF_BIN_SUB = 1, RF_BIN_MUL = 2,
    RF_BIN_DIV = 3,              /* ints: truncates toward zero; a zero divisor is RF_ERR_INVALID_ARG */
    RF_BIN_POW = 4, RF_BIN_MAX = 5, RF_BIN_MIN = 6,
    RF_BIN_MOD = 7,              /* ONNX Mod fmod=0: the result has the divisor's sign (Python %) */
    RF_BIN_FMOD = 8,             /* ONNX Mod fmod=1: C fmod, the dividend's sign */
    RF_BIN_EQ = 9, RF_BIN_LT = 10, RF_BIN_LE = 11, RF_BIN_GT = 12, RF_BIN_GE = 13, /* -> bool */
    RF_BIN_AND = 14, RF_BIN_OR = 15, RF_BIN_XOR = 16  /* bool only */
} rf_binary_nd_op;

/* y = a op b with numpy broadcasting expressed as 0 strides:
 *   for each index i of shape: y[off_y(i)] = a[off_a(i)] op b[off_b(i)]
 * a and b share dtype (f32, i32, i64; bool for EQ AND OR XOR); y has dtype, or
 * bool for the comparisons. MAX/MIN propagate NaN. Integer DIV/MOD/FMOD by zero is RF_ERR_INVALID_ARG
 * (checked before anything is written); INT_MIN / -1 wraps. Integer POW with a
 * negative exponent truncates (1/a^|b| toward zero). y may alias a or b when
 * their strides match. */
RF_API rf_status rf_binary_nd(rf_stream s, int32_t op, int32_t dtype, int32_t rank, const int64_t *shape,
                              const void *a, const int64_t *a_strides, const void *b, const int64_t *b_strides,
                              void *y, const int64_t *y_strides);

/* y = cond ? a : b:
 *   for each index i of shape: y[off_y(i)] = cond[off_c(i)] ? a[off_a(i)] : b[off_b(i)]
 * cond is bool; a, b, y share dtype (f32 i32 i64 bool). */
RF_API rf_status rf_where_nd(rf_stream s, int32_t dtype, int32_t rank, const int64_t *shape,
                             const void *cond, const int64_t *cond_strides, const void *a, const int64_t *a_strides,
                             const void *b, const int64_t *b_strides, void *y, const int64_t *y_strides);

/* Cast and strided copy:
 *   for each index i of shape: y[off_y(i)] = (y_dtype) x[off_x(i)]
 * Every pair of f32 i32 i64 bool: float -> int truncates toward zero (ONNX
 * Cast), a NaN or a value outside the target's range is RF_ERR_OUT_OF_RANGE
 * (checked before anything is written); -> bool is x != 0; i64 -> i32 wraps.
 * With x_dtype == y_dtype it is the strided copy behind Transpose (permuted
 * strides), Expand/Tile (0 strides), Slice (offset pointer, step strides) and
 * Concat/Split (copies into offsets). */
RF_API rf_status rf_cast_nd(rf_stream s, int32_t rank, const int64_t *shape,
                            const void *x, int32_t x_dtype, const int64_t *x_strides,
                            void *y, int32_t y_dtype, const int64_t *y_strides);

typedef enum {
    RF_REDUCE_SUM = 0, RF_REDUCE_MEAN = 1, RF_REDUCE_MAX = 2, RF_REDUCE_MIN = 3, RF_REDUCE_PROD = 4,
    RF_REDUCE_L1 = 5, RF_REDUCE_L2 = 6, RF_REDUCE_SUM_SQUARE = 7, RF_REDUCE_LOG_SUM = 8,
    RF_REDUCE_LOG_SUM_EXP = 9,
    RF_REDUCE_ARGMAX = 10, RF_REDUCE_ARGMIN = 11 /* -> i64 index, first occurrence (select_last_index=0) */
} rf_reduce_op;

/* Reduce the middle axis of contiguous x [outer][n][inner] into contiguous y [outer][inner]:
 *   for o < outer, i < inner: y[o*inner + i] = reduce_{j<n} x[(o*n + j)*inner + i]
 * dtype f32 (every op), i32/i64 (SUM MAX MIN PROD ARGMAX ARGMIN); y has dtype,
 * i64 for ARG*. f32 sums accumulate in double; integer sums wrap. MAX/MIN
 * propagate NaN; ARGMAX/ARGMIN count a NaN as the extreme (the first NaN wins). LOG_SUM_EXP is
 * max + log(sum exp(x - max)). n == 0: SUM/L1/L2/SUM_SQUARE -> 0, PROD -> 1,
 * LOG_SUM -> -inf, LOG_SUM_EXP -> -inf; MEAN, MAX, MIN, ARG* -> RF_ERR_INVALID_ARG. */
RF_API rf_status rf_reduce(rf_stream s, int32_t op, int32_t dtype, int64_t outer, int64_t n, int64_t inner,
                           const void *x, void *y);

/* Softmax (log_softmax == 0) or LogSoftmax (1) along the middle axis of contiguous f32 x [outer][n][inner]:
 *   mx = max_j x[o, j, i]; e_j = exp(x[o, j, i] - mx); z = sum_j e_j
 *   y[o, j, i] = log_softmax ? x[o, j, i] - mx - log(z) : e_j / z          (y may alias x) */
RF_API rf_status rf_softmax_axis(rf_stream s, int32_t log_softmax, int64_t outer, int64_t n, int64_t inner,
                                 const float *x, float *y);

/* Batched strided GEMM of two activations (Q·Kᵀ, attention·V), f32:
 *   for p < batch, i < m, j < n:
 *     acc = sum_{l<k} a[p*sa_b + i*sa_m + l*sa_k] * b[p*sb_b + l*sb_k + j*sb_n]
 *     y[p*sy_b + i*sy_m + j] = acc + (beta != 0 ? beta * y[p*sy_b + i*sy_m + j] : 0)
 * Strides in elements; sa_b or sb_b == 0 broadcasts one operand over the batch.
 * y must not overlap a or b. */
RF_API rf_status rf_matmul_batched(rf_stream s, int64_t batch, int64_t m, int64_t n, int64_t k,
                                   const float *a, int64_t sa_b, int64_t sa_m, int64_t sa_k,
                                   const float *b, int64_t sb_b, int64_t sb_k, int64_t sb_n,
                                   float beta, float *y, int64_t sy_b, int64_t sy_m);

/* ONNX Gather on contiguous x [outer][axis_len][inner] of dtype (f32 i32 i64 bool):
 *   for o < outer, j < num_idx, i < inner:
 *     t = idx[(idx_per_outer ? o*num_idx : 0) + j]       (idx_dtype i32 or i64)
 *     require -axis_len <= t < axis_len                  (else RF_ERR_OUT_OF_RANGE, nothing written)
 *     if t < 0: t += axis_len
 *     y[(o*num_idx + j)*inner + i] = x[(o*axis_len + t)*inner + i] */
RF_API rf_status rf_gather_axis(rf_stream s, int32_t dtype, int64_t outer, int64_t axis_len, int64_t inner,
                                const void *x, const void *idx, int32_t idx_dtype, int64_t num_idx,
                                int32_t idx_per_outer, void *y);

/* ONNX GatherElements on contiguous x [outer][n_in][inner], idx [outer][n_out][inner] (i32/i64):
 *   for o < outer, j < n_out, i < inner:
 *     t = idx[(o*n_out + j)*inner + i]; require -n_in <= t < n_in (else RF_ERR_OUT_OF_RANGE); t < 0: t += n_in
 *     y[(o*n_out + j)*inner + i] = x[(o*n_in + t)*inner + i] */
RF_API rf_status rf_gather_elements(rf_stream s, int32_t dtype, int64_t outer, int64_t n_in, int64_t n_out,
                                    int64_t inner, const void *x, const void *idx, int32_t idx_dtype, void *y);

/* ONNX ScatterND into y, which already holds a copy of data (contiguous, shape data_shape[data_rank]):
 *   slice = prod(data_shape[index_depth:]); 1 <= index_depth <= data_rank
 *   for u < num_updates (in order):
 *     for d < index_depth: t_d = idx[u*index_depth + d]; require -data_shape[d] <= t_d < data_shape[d]
 *                          (else RF_ERR_OUT_OF_RANGE, nothing written); t_d < 0: t_d += data_shape[d]
 *     base = (row-major offset of (t_0..t_{depth-1}) in data_shape[:index_depth]) * slice
 *     for e < slice: y[base + e] = reduce(y[base + e], updates[u*slice + e])
 * reduction: 0 none (assign), 1 add, 2 mul, 3 max, 4 min. dtype f32 i32 i64 (bool: none only). */
RF_API rf_status rf_scatter_nd(rf_stream s, int32_t dtype, int32_t reduction, int32_t data_rank,
                               const int64_t *data_shape, const void *idx, int32_t idx_dtype, int64_t num_updates,
                               int32_t index_depth, const void *updates, void *y);

/* ONNX CumSum along the middle axis of contiguous x [outer][n][inner] (f32 i32 i64; f32 sums in double):
 *   forward:  y[o, j, i] = sum_{l <= j} x[o, l, i]  (exclusive: l < j)
 *   reverse:  y[o, j, i] = sum_{l >= j} x[o, l, i]  (exclusive: l > j) */
RF_API rf_status rf_cumsum_axis(rf_stream s, int32_t dtype, int64_t outer, int64_t n, int64_t inner,
                                int32_t exclusive, int32_t reverse, const void *x, void *y);

/* TopK along the middle axis of contiguous f32 x [outer][n][inner], 0 <= k <= n:
 *   for o < outer, i < inner: order the n values x[o, *, i] (largest = 1: descending,
 *   0: ascending; NaN ranks above every number: first when largest, last when not;
 *   ties -> lower index first) and write the first k:
 *     values[(o*k + t)*inner + i] = x[o, j_t, i], indices[(o*k + t)*inner + i] = j_t (int64) */
RF_API rf_status rf_topk_axis(rf_stream s, int64_t outer, int64_t n, int64_t inner, int64_t k, int32_t largest,
                              const float *x, float *values, int64_t *indices);

/* ---------------------------------------------------------------- machine probes */

/* Peak multiply-add throughput of this machine with `threads` threads, measured
 * now with independent register accumulators: dtype RF_F32 (FMA), RF_BF16
 * (dot-product instructions; RF_ERR_UNSUPPORTED on AVX2) or RF_I8 (VNNI on AVX-512,
 * vpmaddwd on AVX2: the int8 GEMM's instruction), counting 2 ops per multiply-add. */
RF_API rf_status rf_probe_peak_gflops(int32_t threads, int32_t dtype, double *gflops);
/* Read bandwidth from memory (a buffer far larger than the caches), GB/s. */
RF_API rf_status rf_probe_mem_bandwidth(int32_t threads, double *gbytes_per_s);

#ifdef __cplusplus
}
#endif

#endif /* RANKFN_H */
