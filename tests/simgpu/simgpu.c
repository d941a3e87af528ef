/* A simulated GPU for tfmon's tests: a TensorFlow PluggableDevice (the mechanism
 * tensorflow-metal uses) whose "device memory" is plain host memory.
 *
 * - device type GPU, platform name SIMGPU (nobody mistakes it for Metal or CUDA);
 * - memory is malloc'ed, copies are memcpy, streams and events complete at once;
 * - TensorFlow's BFC allocator sits on top (use_bfc_allocator), so
 *   tf.config.experimental.get_memory_info('GPU:N') reports real in-use and peak
 *   bytes and set_memory_growth applies; the plugin's own counters answer
 *   get_allocator_stats and device_memory_usage;
 * - TFMON_SIMGPU_DEVICES devices (default 1), TFMON_SIMGPU_MEMORY_MB each (default 512);
 * - float32 kernels for a deliberately partial set of ops (KERNELS below) that compute
 *   for real on that host memory; every other op has no kernel here, so TensorFlow's
 *   placer puts it on the CPU, as on a Mac where Metal lacks a kernel.
 *
 * Built at test time against the installed TensorFlow (tests/simgpu/build.py) and
 * loaded through TF_PLUGGABLE_DEVICE_LIBRARY_PATH, the way a user's plugin is.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/experimental/stream_executor/stream_executor.h"
#include "tensorflow/c/kernels.h"
#include "tensorflow/c/tf_datatype.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

#define MAX_DEVICES 8
#define MAX_DIMS 8

/* ---- memory accounting (per device) ------------------------------------------------ */

typedef struct {
    int64_t in_use, peak, allocs, largest;
} Counters;

static Counters counters[MAX_DEVICES];
static int64_t memory_limit;

static int env_int(const char* name, int fallback) {
    const char* text = getenv(name);
    return text && *text ? atoi(text) : fallback;
}

static Counters* counters_of(const SP_Device* device) {
    int i = device->ordinal;
    return &counters[i >= 0 && i < MAX_DEVICES ? i : 0];
}

static void allocate(const SP_Device* device, uint64_t size, int64_t memory_space, SP_DeviceMemoryBase* mem) {
    (void)memory_space;
    mem->struct_size = SP_DEVICE_MEMORY_BASE_STRUCT_SIZE;
    mem->opaque = size ? aligned_alloc(64, (size + 63) / 64 * 64) : NULL;
    mem->size = mem->opaque ? size : 0;
    if (!mem->opaque) return;
    Counters* c = counters_of(device);
    int64_t now = __atomic_add_fetch(&c->in_use, (int64_t)size, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&c->allocs, 1, __ATOMIC_SEQ_CST);
    int64_t seen = __atomic_load_n(&c->peak, __ATOMIC_SEQ_CST);
    while (now > seen && !__atomic_compare_exchange_n(&c->peak, &seen, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    seen = __atomic_load_n(&c->largest, __ATOMIC_SEQ_CST);
    while ((int64_t)size > seen &&
           !__atomic_compare_exchange_n(&c->largest, &seen, (int64_t)size, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
}

static void deallocate(const SP_Device* device, SP_DeviceMemoryBase* mem) {
    if (!mem || !mem->opaque) return;
    __atomic_sub_fetch(&counters_of(device)->in_use, (int64_t)mem->size, __ATOMIC_SEQ_CST);
    free(mem->opaque);
    mem->opaque = NULL;
}

static void* host_allocate(const SP_Device* device, uint64_t size) {
    (void)device;
    return aligned_alloc(64, (size + 63) / 64 * 64);
}

static void host_deallocate(const SP_Device* device, void* mem) {
    (void)device;
    free(mem);
}

static TF_Bool allocator_stats(const SP_Device* device, SP_AllocatorStats* stats) {
    Counters* c = counters_of(device);
    stats->struct_size = SP_ALLOCATORSTATS_STRUCT_SIZE;
    stats->num_allocs = __atomic_load_n(&c->allocs, __ATOMIC_SEQ_CST);
    stats->bytes_in_use = __atomic_load_n(&c->in_use, __ATOMIC_SEQ_CST);
    stats->peak_bytes_in_use = __atomic_load_n(&c->peak, __ATOMIC_SEQ_CST);
    stats->largest_alloc_size = __atomic_load_n(&c->largest, __ATOMIC_SEQ_CST);
    stats->has_bytes_limit = 1;
    stats->bytes_limit = memory_limit;
    return 1;
}

static TF_Bool memory_usage(const SP_Device* device, int64_t* free_bytes, int64_t* total_bytes) {
    int64_t used = __atomic_load_n(&counters_of(device)->in_use, __ATOMIC_SEQ_CST);
    *total_bytes = memory_limit;
    *free_bytes = used < memory_limit ? memory_limit - used : 0;
    return 1;
}

/* ---- streams, events, timers: all work is done by the time it is enqueued ---------- */

struct SP_Stream_st { int unused; };
struct SP_Event_st { int unused; };
struct SP_Timer_st { int unused; };

static void create_stream(const SP_Device* d, SP_Stream* s, TF_Status* st) {
    (void)d; *s = calloc(1, sizeof(struct SP_Stream_st)); TF_SetStatus(st, TF_OK, "");
}
static void destroy_stream(const SP_Device* d, SP_Stream s) { (void)d; free(s); }
static void stream_dependency(const SP_Device* d, SP_Stream a, SP_Stream b, TF_Status* st) {
    (void)d; (void)a; (void)b; TF_SetStatus(st, TF_OK, "");
}
static void stream_status(const SP_Device* d, SP_Stream s, TF_Status* st) { (void)d; (void)s; TF_SetStatus(st, TF_OK, ""); }
static void create_event(const SP_Device* d, SP_Event* e, TF_Status* st) {
    (void)d; *e = calloc(1, sizeof(struct SP_Event_st)); TF_SetStatus(st, TF_OK, "");
}
static void destroy_event(const SP_Device* d, SP_Event e) { (void)d; free(e); }
static SE_EventStatus event_status(const SP_Device* d, SP_Event e) { (void)d; (void)e; return SE_EVENT_COMPLETE; }
static void record_event(const SP_Device* d, SP_Stream s, SP_Event e, TF_Status* st) {
    (void)d; (void)s; (void)e; TF_SetStatus(st, TF_OK, "");
}
static void wait_for_event(const SP_Device* const d, SP_Stream s, SP_Event e, TF_Status* const st) {
    (void)d; (void)s; (void)e; TF_SetStatus(st, TF_OK, "");
}
static void block_host_for_event(const SP_Device* d, SP_Event e, TF_Status* st) { (void)d; (void)e; TF_SetStatus(st, TF_OK, ""); }
static void block_host_until_done(const SP_Device* d, SP_Stream s, TF_Status* st) { (void)d; (void)s; TF_SetStatus(st, TF_OK, ""); }
static void synchronize_all(const SP_Device* d, TF_Status* st) { (void)d; TF_SetStatus(st, TF_OK, ""); }
static void create_timer(const SP_Device* d, SP_Timer* t, TF_Status* st) {
    (void)d; *t = calloc(1, sizeof(struct SP_Timer_st)); TF_SetStatus(st, TF_OK, "");
}
static void destroy_timer(const SP_Device* d, SP_Timer t) { (void)d; free(t); }
static void timer_mark(const SP_Device* d, SP_Stream s, SP_Timer t, TF_Status* st) { (void)d; (void)s; (void)t; TF_SetStatus(st, TF_OK, ""); }
static uint64_t timer_nanoseconds(SP_Timer t) { (void)t; return 0; }

static TF_Bool host_callback(const SP_Device* d, SP_Stream s, SE_StatusCallbackFn fn, void* arg) {
    (void)d; (void)s;
    TF_Status* st = TF_NewStatus();
    fn(arg, st);
    TF_DeleteStatus(st);
    return 1;
}

/* ---- copies: memcpy, whichever side is "device" ------------------------------------- */

static void copy_dtoh(const SP_Device* d, SP_Stream s, void* dst, const SP_DeviceMemoryBase* src, uint64_t n, TF_Status* st) {
    (void)d; (void)s; memcpy(dst, src->opaque, n); TF_SetStatus(st, TF_OK, "");
}
static void copy_htod(const SP_Device* d, SP_Stream s, SP_DeviceMemoryBase* dst, const void* src, uint64_t n, TF_Status* st) {
    (void)d; (void)s; memcpy(dst->opaque, src, n); TF_SetStatus(st, TF_OK, "");
}
static void copy_dtod(const SP_Device* d, SP_Stream s, SP_DeviceMemoryBase* dst, const SP_DeviceMemoryBase* src, uint64_t n, TF_Status* st) {
    (void)d; (void)s; memcpy(dst->opaque, src->opaque, n); TF_SetStatus(st, TF_OK, "");
}
static void sync_dtoh(const SP_Device* d, void* dst, const SP_DeviceMemoryBase* src, uint64_t n, TF_Status* st) {
    copy_dtoh(d, NULL, dst, src, n, st);
}
static void sync_htod(const SP_Device* d, SP_DeviceMemoryBase* dst, const void* src, uint64_t n, TF_Status* st) {
    copy_htod(d, NULL, dst, src, n, st);
}
static void sync_dtod(const SP_Device* d, SP_DeviceMemoryBase* dst, const SP_DeviceMemoryBase* src, uint64_t n, TF_Status* st) {
    copy_dtod(d, NULL, dst, src, n, st);
}
static void mem_zero(const SP_Device* d, SP_Stream s, SP_DeviceMemoryBase* at, uint64_t n, TF_Status* st) {
    (void)d; (void)s; memset(at->opaque, 0, n); TF_SetStatus(st, TF_OK, "");
}
static void mem_set(const SP_Device* d, SP_Stream s, SP_DeviceMemoryBase* at, uint8_t pattern, uint64_t n, TF_Status* st) {
    (void)d; (void)s; memset(at->opaque, pattern, n); TF_SetStatus(st, TF_OK, "");
}
static void mem_set32(const SP_Device* d, SP_Stream s, SP_DeviceMemoryBase* at, uint32_t pattern, uint64_t n, TF_Status* st) {
    (void)d; (void)s;
    uint32_t* p = at->opaque;
    for (uint64_t i = 0; i < n / 4; i++) p[i] = pattern;
    TF_SetStatus(st, TF_OK, "");
}

/* ---- platform ----------------------------------------------------------------------- */

static char pci_ids[MAX_DEVICES][16];

static void device_count(const SP_Platform* p, int* count, TF_Status* st) {
    (void)p;
    int n = env_int("TFMON_SIMGPU_DEVICES", 1);
    *count = n < 0 ? 0 : n > MAX_DEVICES ? MAX_DEVICES : n;
    TF_SetStatus(st, TF_OK, "");
}

static void create_device(const SP_Platform* p, SE_CreateDeviceParams* params, TF_Status* st) {
    (void)p;
    SP_Device* device = params->device;
    int i = params->ordinal;
    device->struct_size = SP_DEVICE_STRUCT_SIZE;
    device->ordinal = i;
    device->device_handle = NULL;
    device->hardware_name = "tfmon simulated GPU (host memory)";
    device->device_vendor = "tfmon tests";
    snprintf(pci_ids[i % MAX_DEVICES], sizeof pci_ids[0], "0000:5e:%02x.0", i % 256);
    device->pci_bus_id = pci_ids[i % MAX_DEVICES];
    TF_SetStatus(st, TF_OK, "");
}

static void destroy_device(const SP_Platform* p, SP_Device* d) { (void)p; (void)d; }

static void create_device_fns(const SP_Platform* p, SE_CreateDeviceFnsParams* params, TF_Status* st) {
    (void)p;
    params->device_fns->struct_size = SP_DEVICE_FNS_STRUCT_SIZE;
    TF_SetStatus(st, TF_OK, "");
}

static void destroy_device_fns(const SP_Platform* p, SP_DeviceFns* f) { (void)p; (void)f; }

static void create_stream_executor(const SP_Platform* p, SE_CreateStreamExecutorParams* params, TF_Status* st) {
    (void)p;
    SP_StreamExecutor* se = params->stream_executor;
    se->struct_size = SP_STREAMEXECUTOR_STRUCT_SIZE;
    se->allocate = allocate;
    se->deallocate = deallocate;
    se->host_memory_allocate = host_allocate;
    se->host_memory_deallocate = host_deallocate;
    se->get_allocator_stats = allocator_stats;
    se->device_memory_usage = memory_usage;
    se->create_stream = create_stream;
    se->destroy_stream = destroy_stream;
    se->create_stream_dependency = stream_dependency;
    se->get_stream_status = stream_status;
    se->create_event = create_event;
    se->destroy_event = destroy_event;
    se->get_event_status = event_status;
    se->record_event = record_event;
    se->wait_for_event = wait_for_event;
    se->create_timer = create_timer;
    se->destroy_timer = destroy_timer;
    se->start_timer = timer_mark;
    se->stop_timer = timer_mark;
    se->memcpy_dtoh = copy_dtoh;
    se->memcpy_htod = copy_htod;
    se->memcpy_dtod = copy_dtod;
    se->sync_memcpy_dtoh = sync_dtoh;
    se->sync_memcpy_htod = sync_htod;
    se->sync_memcpy_dtod = sync_dtod;
    se->block_host_for_event = block_host_for_event;
    se->block_host_until_done = block_host_until_done;
    se->synchronize_all_activity = synchronize_all;
    se->mem_zero = mem_zero;
    se->memset = mem_set;
    se->memset32 = mem_set32;
    se->host_callback = host_callback;
    TF_SetStatus(st, TF_OK, "");
}

static void destroy_stream_executor(const SP_Platform* p, SP_StreamExecutor* se) { (void)p; (void)se; }

static void create_timer_fns(const SP_Platform* p, SP_TimerFns* fns, TF_Status* st) {
    (void)p;
    fns->struct_size = SP_TIMER_FNS_STRUCT_SIZE;
    fns->nanoseconds = timer_nanoseconds;
    TF_SetStatus(st, TF_OK, "");
}

static void destroy_timer_fns(const SP_Platform* p, SP_TimerFns* f) { (void)p; (void)f; }
static void destroy_platform(SP_Platform* p) { (void)p; }
static void destroy_platform_fns(SP_PlatformFns* f) { (void)f; }

void SE_InitPlugin(SE_PlatformRegistrationParams* params, TF_Status* status) {
    memory_limit = (int64_t)env_int("TFMON_SIMGPU_MEMORY_MB", 512) << 20;
    params->major_version = SE_MAJOR;
    params->minor_version = SE_MINOR;
    params->patch_version = SE_PATCH;
    params->platform->struct_size = SP_PLATFORM_STRUCT_SIZE;
    params->platform->name = "SIMGPU";
    params->platform->type = "GPU";
    params->platform->supports_unified_memory = 0;
    params->platform->use_bfc_allocator = 1;
    params->platform->force_memory_growth = 0;
    SP_PlatformFns* fns = params->platform_fns;
    fns->struct_size = SP_PLATFORM_FNS_STRUCT_SIZE;
    fns->get_device_count = device_count;
    fns->create_device = create_device;
    fns->destroy_device = destroy_device;
    fns->create_device_fns = create_device_fns;
    fns->destroy_device_fns = destroy_device_fns;
    fns->create_stream_executor = create_stream_executor;
    fns->destroy_stream_executor = destroy_stream_executor;
    fns->create_timer_fns = create_timer_fns;
    fns->destroy_timer_fns = destroy_timer_fns;
    params->destroy_platform = destroy_platform;
    params->destroy_platform_fns = destroy_platform_fns;
    TF_SetStatus(status, TF_OK, "");
}

/* ---- kernels (float32 only) ---------------------------------------------------------- */

typedef struct {
    TF_Bool transpose_a, transpose_b;
} MatMulAttrs;

static void* no_attrs(TF_OpKernelConstruction* ctx) { (void)ctx; return NULL; }
static void no_delete(void* kernel) { (void)kernel; }

/* Inputs 0..n-1 of ctx (n <= 2); NULL entries and a failed ctx when one is missing. */
static int get_inputs(TF_OpKernelContext* ctx, int n, TF_Tensor** out, TF_Status* st) {
    for (int i = 0; i < n; i++) out[i] = NULL;
    for (int i = 0; i < n; i++) {
        TF_GetInput(ctx, i, &out[i], st);
        if (TF_GetCode(st) != TF_OK) {
            TF_OpKernelContext_Failure(ctx, st);
            return 0;
        }
    }
    return 1;
}

static void delete_all(TF_Tensor** tensors, int n) {
    for (int i = 0; i < n; i++)
        if (tensors[i]) TF_DeleteTensor(tensors[i]);
}

static void fail(TF_OpKernelContext* ctx, TF_Status* st, const char* message) {
    TF_SetStatus(st, TF_INVALID_ARGUMENT, message);
    TF_OpKernelContext_Failure(ctx, st);
}

static TF_Tensor* output_like(TF_OpKernelContext* ctx, const int64_t* dims, int ndims, TF_Status* st) {
    size_t n = 1;
    for (int i = 0; i < ndims; i++) n *= (size_t)dims[i];
    TF_Tensor* out = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, ndims, n * sizeof(float), st);
    if (TF_GetCode(st) != TF_OK) {
        TF_OpKernelContext_Failure(ctx, st);
        return NULL;
    }
    return out;
}

static void relu_compute(void* kernel, TF_OpKernelContext* ctx) {
    (void)kernel;
    TF_Status* st = TF_NewStatus();
    TF_Tensor* in[1];
    if (get_inputs(ctx, 1, in, st)) {
        int nd = TF_NumDims(in[0]);
        int64_t dims[MAX_DIMS];
        for (int i = 0; i < nd && i < MAX_DIMS; i++) dims[i] = TF_Dim(in[0], i);
        TF_Tensor* out = nd <= MAX_DIMS ? output_like(ctx, dims, nd, st) : NULL;
        if (out) {
            const float* x = TF_TensorData(in[0]);
            float* y = TF_TensorData(out);
            for (int64_t i = 0, n = TF_TensorElementCount(in[0]); i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
            TF_DeleteTensor(out);
        } else if (nd > MAX_DIMS) {
            fail(ctx, st, "simgpu Relu: too many dimensions");
        }
    }
    delete_all(in, 1);
    TF_DeleteStatus(st);
}

/* out = a OP b with NumPy broadcasting (AddV2, Mul; BiasAdd broadcasts over the last axis). */
static void broadcast_binary(TF_OpKernelContext* ctx, char op) {
    TF_Status* st = TF_NewStatus();
    TF_Tensor* in[2];
    if (!get_inputs(ctx, 2, in, st)) goto done;
    int na = TF_NumDims(in[0]), nb = TF_NumDims(in[1]);
    int nd = na > nb ? na : nb;
    if (nd > MAX_DIMS) {
        fail(ctx, st, "simgpu: too many dimensions");
        goto done;
    }
    int64_t dims[MAX_DIMS], sa[MAX_DIMS], sb[MAX_DIMS];
    int64_t stride_a = 1, stride_b = 1;
    for (int k = nd - 1; k >= 0; k--) {
        int ia = k - (nd - na), ib = k - (nd - nb);
        int64_t da = ia >= 0 ? TF_Dim(in[0], ia) : 1, db = ib >= 0 ? TF_Dim(in[1], ib) : 1;
        if (da != db && da != 1 && db != 1) {
            fail(ctx, st, "simgpu: incompatible shapes for broadcasting");
            goto done;
        }
        dims[k] = da == 1 ? db : da;
        sa[k] = da == 1 ? 0 : stride_a;
        sb[k] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
    }
    TF_Tensor* out = output_like(ctx, dims, nd, st);
    if (!out) goto done;
    const float* a = TF_TensorData(in[0]);
    const float* b = TF_TensorData(in[1]);
    float* y = TF_TensorData(out);
    int64_t n = TF_TensorElementCount(out), index[MAX_DIMS] = {0}, ia = 0, ib = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = op == '*' ? a[ia] * b[ib] : a[ia] + b[ib];
        for (int k = nd - 1; k >= 0; k--) {  /* odometer step over the output index */
            index[k]++;
            ia += sa[k];
            ib += sb[k];
            if (index[k] < dims[k]) break;
            ia -= sa[k] * dims[k];
            ib -= sb[k] * dims[k];
            index[k] = 0;
        }
    }
    TF_DeleteTensor(out);
done:
    delete_all(in, 2);
    TF_DeleteStatus(st);
}

static void add_compute(void* kernel, TF_OpKernelContext* ctx) { (void)kernel; broadcast_binary(ctx, '+'); }
static void mul_compute(void* kernel, TF_OpKernelContext* ctx) { (void)kernel; broadcast_binary(ctx, '*'); }

static void bias_add_compute(void* kernel, TF_OpKernelContext* ctx) {
    (void)kernel;
    /* The default data_format (NHWC): the bias runs along the last axis, which is what
     * broadcasting a rank-1 bias does. NCHW is refused at construction. */
    broadcast_binary(ctx, '+');
}

static void* bias_add_create(TF_OpKernelConstruction* ctx) {
    TF_Status* st = TF_NewStatus();
    char format[8] = "NHWC";
    if (TF_OpKernelConstruction_HasAttr(ctx, "data_format", st)) {
        TF_OpKernelConstruction_GetAttrString(ctx, "data_format", format, sizeof format - 1, st);
        format[4] = '\0';
    }
    if (strncmp(format, "NHWC", 4) != 0) {
        TF_SetStatus(st, TF_UNIMPLEMENTED, "simgpu BiasAdd: only data_format NHWC");
        TF_OpKernelConstruction_Failure(ctx, st);
    }
    TF_DeleteStatus(st);
    return NULL;
}

static void* matmul_create(TF_OpKernelConstruction* ctx) {
    MatMulAttrs* attrs = calloc(1, sizeof *attrs);
    TF_Status* st = TF_NewStatus();
    TF_OpKernelConstruction_GetAttrBool(ctx, "transpose_a", &attrs->transpose_a, st);
    if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrBool(ctx, "transpose_b", &attrs->transpose_b, st);
    if (TF_GetCode(st) != TF_OK) TF_OpKernelConstruction_Failure(ctx, st);
    TF_DeleteStatus(st);
    return attrs;
}

static void matmul_delete(void* kernel) { free(kernel); }

static void matmul_compute(void* kernel, TF_OpKernelContext* ctx) {
    const MatMulAttrs* attrs = kernel;
    TF_Status* st = TF_NewStatus();
    TF_Tensor* in[2];
    if (!get_inputs(ctx, 2, in, st)) goto done;
    if (TF_NumDims(in[0]) != 2 || TF_NumDims(in[1]) != 2) {
        fail(ctx, st, "simgpu MatMul: inputs must be matrices");
        goto done;
    }
    int64_t a0 = TF_Dim(in[0], 0), a1 = TF_Dim(in[0], 1), b0 = TF_Dim(in[1], 0), b1 = TF_Dim(in[1], 1);
    int64_t m = attrs->transpose_a ? a1 : a0, k = attrs->transpose_a ? a0 : a1;
    int64_t kb = attrs->transpose_b ? b1 : b0, n = attrs->transpose_b ? b0 : b1;
    if (k != kb) {
        fail(ctx, st, "simgpu MatMul: inner dimensions differ");
        goto done;
    }
    int64_t dims[2] = {m, n};
    TF_Tensor* out = output_like(ctx, dims, 2, st);
    if (!out) goto done;
    const float* a = TF_TensorData(in[0]);
    const float* b = TF_TensorData(in[1]);
    float* y = TF_TensorData(out);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float sum = 0.0f;
            for (int64_t p = 0; p < k; p++) {
                float x = attrs->transpose_a ? a[p * a1 + i] : a[i * a1 + p];
                float w = attrs->transpose_b ? b[j * b1 + p] : b[p * b1 + j];
                sum += x * w;
            }
            y[i * n + j] = sum;
        }
    }
    TF_DeleteTensor(out);
done:
    delete_all(in, 2);
    TF_DeleteStatus(st);
}

typedef struct {
    const char* op;
    void* (*create)(TF_OpKernelConstruction*);
    void (*compute)(void*, TF_OpKernelContext*);
    void (*destroy)(void*);
} Kernel;

/* The ops this device runs (float32 only). Everything else falls back to the CPU. */
static const Kernel KERNELS[] = {
    {"MatMul", matmul_create, matmul_compute, matmul_delete},
    {"BiasAdd", bias_add_create, bias_add_compute, no_delete},
    {"Relu", no_attrs, relu_compute, no_delete},
    {"AddV2", no_attrs, add_compute, no_delete},
    {"Mul", no_attrs, mul_compute, no_delete},
};

void TF_InitKernel(void) {
    TF_Status* st = TF_NewStatus();
    for (size_t i = 0; i < sizeof KERNELS / sizeof KERNELS[0]; i++) {
        const Kernel* k = &KERNELS[i];
        TF_KernelBuilder* builder = TF_NewKernelBuilder(k->op, "GPU", k->create, k->compute, k->destroy);
        TF_KernelBuilder_TypeConstraint(builder, "T", TF_FLOAT, st);
        if (TF_GetCode(st) != TF_OK) {
            fprintf(stderr, "simgpu: %s: %s\n", k->op, TF_Message(st));
            TF_DeleteKernelBuilder(builder);
            continue;
        }
        TF_RegisterKernelBuilder(k->op, builder, st);
        if (TF_GetCode(st) != TF_OK) fprintf(stderr, "simgpu: registering %s: %s\n", k->op, TF_Message(st));
    }
    TF_DeleteStatus(st);
}
