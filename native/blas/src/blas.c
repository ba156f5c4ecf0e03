/*
 * OpenBLAS for tfjs-backend-wasm's heavy kernels, working in place on the wasm heap.
 *
 * Every function takes the heap (the wasm module's memory: an ArrayBuffer, or a Uint8Array view when
 * the threaded build's memory is a SharedArrayBuffer) and byte offsets of tensors in it, as
 * tfjs-backend-wasm's own C++ kernels do. Every extent is checked against the heap's length: a stale
 * heap (the memory grew after it was read) fails loudly instead of writing out of bounds.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include <node_api.h>

/* Declared by OpenBLAS's cblas.h on most builds; repeated here for those that omit them. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

#define CHECK(env, call)                                            \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error((env), NULL, "distill-blas: N-API call failed: " #call); \
      return NULL;                                                  \
    }                                                               \
  } while (0)

#define FAIL(env, msg)                       \
  do {                                       \
    napi_throw_error((env), NULL, (msg));    \
    return NULL;                             \
  } while (0)

typedef struct {
  uint8_t *data;
  size_t bytes;
} heap_t;

static int get_heap(napi_env env, napi_value v, heap_t *heap) {
  bool is;
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    void *data;
    size_t bytes;
    if (napi_get_arraybuffer_info(env, v, &data, &bytes) != napi_ok) return 0;
    heap->data = data;
    heap->bytes = bytes;
    return 1;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    void *data;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    heap->data = data;
    heap->bytes = length;
    return 1;
  }
  return 0;
}

static int64_t int_arg(napi_env env, napi_value v) {
  int64_t out = -1;
  napi_get_value_int64(env, v, &out);
  return out;
}

static double num_arg(napi_env env, napi_value v) {
  double out = NAN;
  napi_get_value_double(env, v, &out);
  return out;
}

/* Does [offset, offset + 4 * floats) lie inside the heap, 4-byte aligned? */
static int in_heap(const heap_t *h, int64_t offset, int64_t floats) {
  return offset >= 0 && floats >= 0 && (offset & 3) == 0 && (uint64_t)offset + 4 * (uint64_t)floats <= h->bytes;
}

/*
 * sgemm(heap, batch, transA, transB, M, N, K, aOff, bOff, cOff, strideA, strideB, biasOff, biasLen, relu)
 * C[b] = op(A[b]) · op(B[b]) (+ bias) for b < batch, all row-major float32; C is [batch, M, N], packed.
 * strideA/strideB: floats between batches (0 broadcasts a batch of one). biasOff < 0: no bias;
 * biasLen 1 (a scalar) or N (one per column). relu != 0 clamps the result at 0.
 */
static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 15) FAIL(env, "distill-blas: sgemm takes 15 arguments");
  heap_t h;
  if (!get_heap(env, argv[0], &h)) FAIL(env, "distill-blas: sgemm: the heap must be an ArrayBuffer or a Uint8Array");
  int64_t batch = int_arg(env, argv[1]);
  bool ta, tb;
  CHECK(env, napi_get_value_bool(env, argv[2], &ta));
  CHECK(env, napi_get_value_bool(env, argv[3], &tb));
  int64_t M = int_arg(env, argv[4]), N = int_arg(env, argv[5]), K = int_arg(env, argv[6]);
  int64_t aOff = int_arg(env, argv[7]), bOff = int_arg(env, argv[8]), cOff = int_arg(env, argv[9]);
  int64_t sA = int_arg(env, argv[10]), sB = int_arg(env, argv[11]);
  int64_t biasOff = int_arg(env, argv[12]), biasLen = int_arg(env, argv[13]);
  bool relu;
  CHECK(env, napi_get_value_bool(env, argv[14], &relu));
  if (batch < 1 || M < 1 || N < 1 || K < 1 || sA < 0 || sB < 0) FAIL(env, "distill-blas: sgemm: bad sizes");
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) FAIL(env, "distill-blas: sgemm: sizes beyond 32 bits");
  if (!in_heap(&h, aOff, (batch - 1) * sA + M * K) || !in_heap(&h, bOff, (batch - 1) * sB + K * N) ||
      !in_heap(&h, cOff, batch * M * N))
    FAIL(env, "distill-blas: sgemm: an operand lies outside the heap (stale heap buffer?)");
  int has_bias = biasOff >= 0;
  if (has_bias && ((biasLen != 1 && biasLen != N) || !in_heap(&h, biasOff, biasLen)))
    FAIL(env, "distill-blas: sgemm: bad bias");
  const float *a = (const float *)(h.data + aOff);
  const float *b = (const float *)(h.data + bOff);
  float *c = (float *)(h.data + cOff);
  const float *bias = has_bias ? (const float *)(h.data + biasOff) : NULL;
  int lda = ta ? (int)M : (int)K, ldb = tb ? (int)K : (int)N;
  for (int64_t i = 0; i < batch; i++) {
    float *ci = c + i * M * N;
    if (has_bias) {
      for (int64_t r = 0; r < M; r++) {
        float *row = ci + r * N;
        if (biasLen == 1) for (int64_t j = 0; j < N; j++) row[j] = bias[0];
        else memcpy(row, bias, (size_t)N * sizeof(float));
      }
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                a + i * sA, lda, b + i * sB, ldb, has_bias ? 1.0f : 0.0f, ci, (int)N);
    if (relu)
      for (int64_t j = 0; j < M * N; j++) ci[j] = ci[j] > 0.0f ? ci[j] : 0.0f;
  }
  return NULL;
}

/*
 * adam(heap, n, varOff, gradOff, mOff, vOff, outVar, outM, outV,
 *      lr, beta1, beta2, oneMinusBeta1, oneMinusBeta2, epsilon, oneMinusAccBeta1, oneMinusAccBeta2)
 * One Adam step over n floats in one pass, into separate outputs, with the float32 arithmetic of
 * tfjs' AdamOptimizer step by step (the "one minus" constants come from the caller, rounded as tfjs
 * rounds them), so the fused update matches the stock one.
 */
static napi_value adam(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 17) FAIL(env, "distill-blas: adam takes 17 arguments");
  heap_t h;
  if (!get_heap(env, argv[0], &h)) FAIL(env, "distill-blas: adam: the heap must be an ArrayBuffer or a Uint8Array");
  int64_t n = int_arg(env, argv[1]);
  int64_t off[7];
  for (int i = 0; i < 7; i++) {
    off[i] = int_arg(env, argv[2 + i]);
    if (!in_heap(&h, off[i], n)) FAIL(env, "distill-blas: adam: a tensor lies outside the heap (stale heap buffer?)");
  }
  float lr = (float)num_arg(env, argv[9]), b1 = (float)num_arg(env, argv[10]), b2 = (float)num_arg(env, argv[11]);
  float d1 = (float)num_arg(env, argv[12]), d2 = (float)num_arg(env, argv[13]), eps = (float)num_arg(env, argv[14]);
  float c1 = (float)num_arg(env, argv[15]), c2 = (float)num_arg(env, argv[16]);
  const float *var = (const float *)(h.data + off[0]), *g = (const float *)(h.data + off[1]);
  const float *m = (const float *)(h.data + off[2]), *v = (const float *)(h.data + off[3]);
  float *ovar = (float *)(h.data + off[4]), *om = (float *)(h.data + off[5]), *ov = (float *)(h.data + off[6]);
  const float nlr = -lr;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + gi * d1;
    float vi = b2 * v[i] + (gi * gi) * d2;
    float step = (mi / c1) / (sqrtf(vi / c2) + eps);
    om[i] = mi;
    ov[i] = vi;
    ovar[i] = step * nlr + var[i];
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n = argc == 1 ? int_arg(env, argv[0]) : -1;
  if (n < 1 || n > 1024) FAIL(env, "distill-blas: setThreads takes a count from 1 to 1024");
  openblas_set_num_threads((int)n);
  return NULL;
}

static napi_value describe(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, config, core, threads;
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &config));
  CHECK(env, napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &core));
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &threads));
  CHECK(env, napi_set_named_property(env, out, "config", config));
  CHECK(env, napi_set_named_property(env, out, "core", core));
  CHECK(env, napi_set_named_property(env, out, "threads", threads));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"describe", NULL, describe, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
