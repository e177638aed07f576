// oneDNN 2.6 timings of the cases the NormKernels bench measures (issue 11/12's "faster than oneDNN in the same run").
// Two builds of this one file:
// - a program: g++ -O2 -std=c++17 bench_onednn.cpp -ldnnl -o bench_onednn ; run: OMP_NUM_THREADS=1 ./bench_onednn
//   Prints one line per case: the bench's case id and the median ms per call (see median_ms), or, where the primitive's
//   outputs differ from a float64 reference of the formulas, "<id> check-failed <worst error>".
// - a library the bench loads into its own process (its default with --onednn): g++ -O2 -std=c++17 -shared -fPIC -fopenmp
//   -DNK_ONEDNN_LIBRARY bench_onednn.cpp -ldnnl -o libnk_onednn.so. The C functions at the end build and check every case
//   once (nk_onednn_open), then run a case's calls on demand (nk_onednn_run), so the bench times oneDNN's batches in the
//   same rounds as its own kernel and streaming limit, interleaved (a separate run minutes later met another load on this
//   shared host: a memory-bound case's ratio to oneDNN moved 0.5-1.6x from run to run).
// CPU engine, f32.
#include <oneapi/dnnl/dnnl.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <unordered_map>
#include <random>
#include <string>
#include <vector>
#ifdef NK_ONEDNN_LIBRARY
#include <cstdlib>
#include <omp.h>
#endif

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static double median_ms(const std::function<void()>& call) {
    // As the C# quick harness: warm-up, then batches of calls filling about 8 ms, the median over 15 batches of the time
    // per call (single calls of the S2 and S3 cases last 50-300 us, near the clock's and the scheduler's noise).
    auto t0 = std::chrono::steady_clock::now();
    int warm = 0;
    do { call(); warm++; } while (warm < 5 || std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() < 30);
    double per = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / warm;
    int batch = std::max(1, (int)(8.0 / per + 0.999));
    std::vector<double> t;
    for (int r = 0; r < 15; r++) {
        auto b0 = std::chrono::steady_clock::now();
        for (int i = 0; i < batch; i++) call();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - b0).count() / batch);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// Each tensor its own values (a fresh seed per call), uniform in [lo, hi): -0.5..1.5 for data, 0.2..1.2 for variances.
static void fill(memory& m, float lo = -0.5f, float hi = 1.5f) {
    static unsigned seed = 42;
    std::mt19937 rng(seed++);
    std::uniform_real_distribution<float> u(lo, hi);
    float* p = static_cast<float*>(m.get_data_handle());
    size_t n = m.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; i++) p[i] = u(rng);
}

// ---- Checks: every timed primitive's outputs against a float64 reference written from the formulas (as PyTorch defines
// them), once, before it is timed. A primitive that computes something else is not a baseline: its case prints
// "<id> check-failed <worst>" instead of a time, and the C# side reports it.
static const float* data(const memory& m) { return static_cast<const float*>(m.get_data_handle()); }

// Index of (n, c, i) with i = h * W + w in an nchw or nhwc tensor.
static size_t index_of(tag layout, const memory::dims& d, size_t n, size_t c, size_t i) {
    size_t C = d[1], HW = d.size() > 2 ? d[2] * d[3] : 1;
    return layout == tag::nhwc ? (n * HW + i) * C + c : (n * C + c) * HW + i;
}

// The worst |got - ref| / max(1, max |ref|) over the elements.
static double worst(const float* got, const std::vector<double>& ref) {
    double top = 1, w = 0;
    for (double r : ref) top = std::max(top, std::fabs(r));
    for (size_t i = 0; i < ref.size(); i++) {
        double e = std::fabs(got[i] - ref[i]);
        if (!(e <= 1e30)) return 1e30;  // NaN or infinity
        w = std::max(w, e);
    }
    return w / top;
}

// Every case built and checked: its one call (the primitive and its memories held by the closure), or the worst error
// that failed its check. Cases in the order they were built.
struct Case { std::string id; std::function<void()> call; double error; bool ok; };
static std::vector<Case> cases;

// Registers the case's call if its worst error is within the tolerance (1e-3 unless said; float32 kernels: 1e-5 is
// typical), else the failure. The closure takes its primitive, memories and stream by value (oneDNN's handles share
// ownership), so they live as long as the case.
static void report(const std::string& id, double worst_error, std::function<void()> call, double tolerance = 1e-3) {
    bool ok = worst_error <= tolerance;
    cases.push_back({id, ok ? std::move(call) : std::function<void()>(), worst_error, ok});
}

// BatchNorm forward per channel: y = scale * (x - mean) / sqrt(var + eps) + shift (relu: max(y, 0)); the statistics are
// the given ones or (batch) the biased ones of x over N, H, W in float64.
static std::vector<double> batchnorm_reference(const memory& src, tag layout, const memory::dims& d, const float* mean, const float* var,
    const float* scale, const float* shift, bool batch, bool relu, std::vector<double>* batchMean, std::vector<double>* batchVar) {
    size_t N = d[0], C = d[1], HW = d[2] * d[3];
    const float* x = data(src);
    std::vector<double> y(N * C * HW);
    for (size_t c = 0; c < C; c++) {
        double m = batch ? 0 : mean[c], v = batch ? 0 : var[c];
        if (batch) {
            double s = 0, q = 0;
            for (size_t n = 0; n < N; n++) for (size_t i = 0; i < HW; i++) s += x[index_of(layout, d, n, c, i)];
            m = s / (N * HW);
            for (size_t n = 0; n < N; n++) for (size_t i = 0; i < HW; i++) { double t = x[index_of(layout, d, n, c, i)] - m; q += t * t; }
            v = q / (N * HW);
            (*batchMean)[c] = m;
            (*batchVar)[c] = v;
        }
        double a = scale[c] / std::sqrt(v + 1e-5);
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                size_t k = index_of(layout, d, n, c, i);
                double r = a * (x[k] - m) + shift[c];
                y[k] = relu ? std::max(r, 0.0) : r;
            }
    }
    return y;
}

// LocalResponseNorm across channels: y = x / (k + alpha / size * sum over the window of x^2)^beta, the window the
// channels c - (size - 1) / 2 .. c + size / 2 that exist.
static std::vector<double> lrn_reference(const memory& src, tag layout, const memory::dims& d, int size, double alpha, double beta, double k) {
    long N = d[0], C = d[1], HW = d[2] * d[3];
    const float* x = data(src);
    std::vector<double> y(N * C * HW);
    for (long n = 0; n < N; n++)
        for (long i = 0; i < HW; i++)
            for (long c = 0; c < C; c++) {
                double s = 0;
                for (long j = std::max(0L, c - (size - 1) / 2); j <= std::min(C - 1, c + size / 2); j++) {
                    double v = x[index_of(layout, d, n, j, i)];
                    s += v * v;
                }
                size_t at = index_of(layout, d, n, c, i);
                y[at] = x[at] / std::pow(k + alpha / size * s, beta);
            }
    return y;
}

// BatchNorm training backward from the forward's (float) statistics: x^ = (x - mean) * rstd, dshift = sum dy,
// dscale = sum dy * x^, dx = scale * rstd * (dy - dshift / M - x^ * dscale / M), M = N * H * W.
static double batchnorm_backward_error(const memory& src, const memory& ddst, tag layout, const memory::dims& d, const memory& mean,
    const memory& var, const memory& scale, const memory& dsrc, const memory& dscale, const memory& dshift) {
    size_t N = d[0], C = d[1], HW = d[2] * d[3];
    const float *x = data(src), *dy = data(ddst);
    std::vector<double> dx(N * C * HW), ds(C), db(C);
    for (size_t c = 0; c < C; c++) {
        double m = data(mean)[c], rstd = 1 / std::sqrt(data(var)[c] + 1e-5), sdy = 0, sdyx = 0, M = double(N * HW);
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                size_t k = index_of(layout, d, n, c, i);
                sdy += dy[k];
                sdyx += dy[k] * (x[k] - m) * rstd;
            }
        db[c] = sdy;
        ds[c] = sdyx;
        for (size_t n = 0; n < N; n++)
            for (size_t i = 0; i < HW; i++) {
                size_t k = index_of(layout, d, n, c, i);
                dx[k] = data(scale)[c] * rstd * (dy[k] - sdy / M - (x[k] - m) * rstd * sdyx / M);
            }
    }
    return std::max({worst(data(dsrc), dx), worst(data(dscale), ds), worst(data(dshift), db)});
}

// The arguments of a normalization's backward with scale and shift (BatchNorm and LayerNorm take the same ones).
static std::unordered_map<int, memory> backward_args(memory& src, memory& ddst, memory& mean, memory& var, memory& scale,
    memory& shift, memory& dsrc, memory& dscale, memory& dshift) {
    return {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
        {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_DIFF_SRC, dsrc}, {DNNL_ARG_DIFF_SCALE, dscale},
        {DNNL_ARG_DIFF_SHIFT, dshift}};
}

struct Shape { memory::dims dims; const char* name; };

// BatchNorm inference and training (and, at S1, inference with the fused ReLU) and LRN(5) in one layout.
static void forward_cases(engine& eng, stream& s, const Shape& shape, tag layout, bool lrn) {
    const char* name = layout == tag::nchw ? "nchw" : "nhwc";
    memory::desc md(shape.dims, dt::f32, layout);
    memory src(md, eng), dst(md, eng);
    fill(src);
    memory::desc cd({shape.dims[1]}, dt::f32, tag::x);
    memory mean(cd, eng), var(cd, eng), scale(cd, eng), shift(cd, eng);
    fill(mean); fill(var, 0.2f, 1.2f); fill(scale); fill(shift);
    std::string suffix = std::string("-") + name + "-" + shape.name;
    auto args = [&] { return std::unordered_map<int, memory>{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean},
        {DNNL_ARG_VARIANCE, var}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}}; };
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    {
        // Inference: global statistics, scale and shift.
        auto pd = batch_normalization_forward::primitive_desc(batch_normalization_forward::desc(prop_kind::forward_inference, md, 1e-5f,
            flags | normalization_flags::use_global_stats), eng);
        batch_normalization_forward p(pd);
        auto a = args();
        p.execute(s, a);
        s.wait();
        auto ref = batchnorm_reference(src, layout, shape.dims, data(mean), data(var), data(scale), data(shift), false, false, nullptr, nullptr);
        report("bn-infer" + suffix, worst(data(dst), ref), [p, a, s]() mutable { p.execute(s, a); s.wait(); });
    }
    {
        // Training: batch statistics computed and written.
        auto pd = batch_normalization_forward::primitive_desc(batch_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
        batch_normalization_forward p(pd);
        auto a = args();
        p.execute(s, a);
        s.wait();
        std::vector<double> bm(shape.dims[1]), bv(shape.dims[1]);
        auto ref = batchnorm_reference(src, layout, shape.dims, nullptr, nullptr, data(scale), data(shift), true, false, &bm, &bv);
        double e = std::max({worst(data(dst), ref), worst(data(mean), bm), worst(data(var), bv)});
        report("bn-train" + suffix, e, [p, a, s]() mutable { p.execute(s, a); s.wait(); });
        fill(mean); fill(var, 0.2f, 1.2f);  // the inference cases after this read them
    }
    if (std::string(shape.name) == "S1") {
        // Inference with the fused ReLU (ResNet's BN + ReLU; oneDNN 2.6 has no fused residual add).
        auto pd = batch_normalization_forward::primitive_desc(batch_normalization_forward::desc(prop_kind::forward_inference, md, 1e-5f,
            flags | normalization_flags::use_global_stats | normalization_flags::fuse_norm_relu), eng);
        batch_normalization_forward p(pd);
        auto a = args();
        p.execute(s, a);
        s.wait();
        auto ref = batchnorm_reference(src, layout, shape.dims, data(mean), data(var), data(scale), data(shift), false, true, nullptr, nullptr);
        report("bn-relu-infer" + suffix, worst(data(dst), ref), [p, a, s]() mutable { p.execute(s, a); s.wait(); });
    }
    if (lrn) {
        // Across channels, size 5, alpha 1e-4, beta 0.75, k 1 (PyTorch's defaults).
        auto pd = lrn_forward::primitive_desc(
            lrn_forward::desc(prop_kind::forward_inference, algorithm::lrn_across_channels, md, 5, 1e-4f, 0.75f, 1.0f), eng);
        lrn_forward p(pd);
        p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
        s.wait();
        auto ref = lrn_reference(src, layout, shape.dims, 5, 1e-4, 0.75, 1.0);
        // With alpha 1e-4, y is x to within 3e-4: compared on the norm's effect, x - y (float rounding of y is 1e-3 of it
        // at most; a window of 3 channels instead of 5, or the other layout, is off by 40% and more).
        const float* x = data(src);
        std::vector<double> effect(ref.size()), gotEffect(ref.size());
        double top = 0;
        for (size_t i = 0; i < ref.size(); i++) {
            effect[i] = x[i] - ref[i];
            gotEffect[i] = double(x[i]) - data(dst)[i];
            top = std::max(top, std::fabs(effect[i]));
        }
        double e = 0;
        for (size_t i = 0; i < ref.size(); i++) e = std::max(e, std::fabs(gotEffect[i] - effect[i]) / top);
        if (!(e <= 1e30)) e = 1e30;
        std::unordered_map<int, memory> a{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}};
        report("lrn5" + suffix, e, [p, a, s]() mutable { p.execute(s, a); s.wait(); }, 1e-2);
    }
}

// BatchNorm training backward (prop_kind::backward: diff_src, diff_scale, diff_shift from the batch statistics).
static void batchnorm_backward(engine& eng, stream& s, const Shape& shape, tag layout) {
    const char* name = layout == tag::nchw ? "nchw" : "nhwc";
    memory::desc md(shape.dims, dt::f32, layout);
    memory src(md, eng), dst(md, eng), ddst(md, eng), dsrc(md, eng);
    fill(src); fill(ddst);
    memory::desc cd({shape.dims[1]}, dt::f32, tag::x);
    memory mean(cd, eng), var(cd, eng), scale(cd, eng), shift(cd, eng), dscale(cd, eng), dshift(cd, eng);
    fill(scale); fill(shift);
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    auto fpd = batch_normalization_forward::primitive_desc(
        batch_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
    batch_normalization_forward(fpd).execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean},
        {DNNL_ARG_VARIANCE, var}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}});
    s.wait();
    auto bpd = batch_normalization_backward::primitive_desc(
        batch_normalization_backward::desc(prop_kind::backward, md, md, 1e-5f, flags), eng, fpd);
    batch_normalization_backward b(bpd);
    auto args = backward_args(src, ddst, mean, var, scale, shift, dsrc, dscale, dshift);
    b.execute(s, args);
    s.wait();
    double e = batchnorm_backward_error(src, ddst, layout, shape.dims, mean, var, scale, dsrc, dscale, dshift);
    report(std::string("bn-bwd-") + name + "-" + shape.name, e, [b, args, s]() mutable { b.execute(s, args); s.wait(); });
}

// LayerNorm over the last dim, training (statistics written), and its backward from the saved statistics.
static void layernorm_rows(engine& eng, stream& s, memory::dim rows, memory::dim cols, const char* shapeName) {
    memory::desc md({rows, cols}, dt::f32, tag::ab);
    memory src(md, eng), dst(md, eng);
    fill(src);
    memory::desc sd({rows}, dt::f32, tag::a), cd({cols}, dt::f32, tag::a);
    memory mean(sd, eng), var(sd, eng), scale(cd, eng), shift(cd, eng);
    fill(scale); fill(shift);
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    auto pd = layer_normalization_forward::primitive_desc(
        layer_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
    layer_normalization_forward p(pd);
    std::unordered_map<int, memory> fargs{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
        {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}};
    p.execute(s, fargs);
    s.wait();
    // Reference per row: mean and biased variance in float64, y = scale * (x - mean) / sqrt(var + eps) + shift.
    const float* x = data(src);
    std::vector<double> y(rows * cols), rm(rows), rv(rows);
    for (memory::dim r = 0; r < rows; r++) {
        double sum = 0, sq = 0;
        for (memory::dim j = 0; j < cols; j++) sum += x[r * cols + j];
        double m = sum / cols;
        for (memory::dim j = 0; j < cols; j++) sq += (x[r * cols + j] - m) * (x[r * cols + j] - m);
        double v = sq / cols, rstd = 1 / std::sqrt(v + 1e-5);
        rm[r] = m;
        rv[r] = v;
        for (memory::dim j = 0; j < cols; j++) y[r * cols + j] = data(scale)[j] * (x[r * cols + j] - m) * rstd + data(shift)[j];
    }
    double fe = std::max({worst(data(dst), y), worst(data(mean), rm), worst(data(var), rv)});
    report(std::string("ln-last-") + shapeName, fe, [p, fargs, s]() mutable { p.execute(s, fargs); s.wait(); });
    memory ddst(md, eng), dsrc(md, eng), dscale(cd, eng), dshift(cd, eng);
    fill(ddst);
    p.execute(s, fargs);
    s.wait();
    auto bpd = layer_normalization_backward::primitive_desc(
        layer_normalization_backward::desc(prop_kind::backward, md, md, 1e-5f, flags), eng, pd);
    layer_normalization_backward b(bpd);
    auto args = backward_args(src, ddst, mean, var, scale, shift, dsrc, dscale, dshift);
    b.execute(s, args);
    s.wait();
    // Reference from the forward's (float) statistics: x^ = (x - mean) * rstd, g = scale * dy, dshift = sum over rows of dy,
    // dscale = sum of dy * x^, dx = rstd * (g - mean(g) - x^ * mean(g * x^)) over the row.
    const float* dy = data(ddst);
    std::vector<double> dx(rows * cols), ds(cols), db(cols);
    for (memory::dim r = 0; r < rows; r++) {
        double m = data(mean)[r], rstd = 1 / std::sqrt(data(var)[r] + 1e-5), mg = 0, mgx = 0;
        for (memory::dim j = 0; j < cols; j++) {
            double h = (x[r * cols + j] - m) * rstd, g = data(scale)[j] * dy[r * cols + j];
            mg += g;
            mgx += g * h;
            ds[j] += dy[r * cols + j] * h;
            db[j] += dy[r * cols + j];
        }
        mg /= cols;
        mgx /= cols;
        for (memory::dim j = 0; j < cols; j++) {
            double h = (x[r * cols + j] - m) * rstd;
            dx[r * cols + j] = rstd * (data(scale)[j] * dy[r * cols + j] - mg - h * mgx);
        }
    }
    double be = std::max({worst(data(dsrc), dx), worst(data(dscale), ds), worst(data(dshift), db)});
    report(std::string("ln-bwd-last-") + shapeName, be, [b, args, s]() mutable { b.execute(s, args); s.wait(); });
}

// Builds and checks every case (the engine and stream live as long as the cases hold them).
static void build_cases() {
    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    // The bench's shapes (bench/NormKernels.Bench/Shapes.cs); ids as the bench's case ids (--list).
    const Shape s1{{32, 64, 56, 56}, "S1"}, s2{{32, 512, 7, 7}, "S2"}, s3{{2, 256, 64, 64}, "S3"};
    for (const Shape* shape : {&s1, &s2, &s3})
        for (tag layout : {tag::nchw, tag::nhwc})
            forward_cases(eng, s, *shape, layout, shape != &s3);
    for (const Shape* shape : {&s1, &s2})
        for (tag layout : {tag::nchw, tag::nhwc})
            batchnorm_backward(eng, s, *shape, layout);
    layernorm_rows(eng, s, 8192, 768, "S4");
    layernorm_rows(eng, s, 1536, 4096, "S6");
}

// Both builds check every case first and time afterwards. Some cases share memories (a layout's BatchNorm mean and
// variance, LayerNorm's saved statistics): a training call rewrites them with valid statistics before a later case reads
// them, which changes no timing; every check ran on the values it was written for.
#ifndef NK_ONEDNN_LIBRARY
int main() {
    build_cases();
    for (Case& c : cases) {
        if (c.ok) std::printf("%s %.4f\n", c.id.c_str(), median_ms(c.call));
        else std::printf("%s check-failed %.3g\n", c.id.c_str(), c.error);
    }
    return 0;
}
#else
// The library's C interface (bench/NormKernels.Bench/Suite/OneDnnRunner.cs). Call nk_onednn_open once, from the thread
// that will run the cases: it caps the instruction set (isa: "AVX2", "SSE41" or empty; before oneDNN's first use), sets
// the OpenMP threads of that thread's parallel regions, builds and checks every case, and returns how many there are.
static int open_threads = 1;

extern "C" int nk_onednn_open(int threads, const char* isa) {
    if (!cases.empty()) return (int)cases.size();
    open_threads = threads;
    if (isa != nullptr && isa[0] != 0) {
        setenv("DNNL_MAX_CPU_ISA", isa, 1);
        setenv("ONEDNN_MAX_CPU_ISA", isa, 1);
    }
    omp_set_num_threads(threads);
    try {
        build_cases();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "oneDNN: %s\n", e.what());
        cases.clear();
        return -1;
    }
    return (int)cases.size();
}

// Case i's id, and its check: 1 passed (timed), 0 failed (worst error in *error), -1 no such case.
extern "C" int nk_onednn_case(int i, char* id, int capacity, double* error) {
    if (i < 0 || i >= (int)cases.size()) return -1;
    std::snprintf(id, capacity, "%s", cases[i].id.c_str());
    *error = cases[i].error;
    return cases[i].ok ? 1 : 0;
}

// Runs `calls` calls of case i (a passed one); 0, or -1 for no such case. The thread count is the calling thread's own
// OpenMP setting, so it is set again here (the bench may call from another thread than the one that opened).
extern "C" int nk_onednn_run(int i, int calls) {
    if (i < 0 || i >= (int)cases.size() || !cases[i].ok) return -1;
    if (omp_get_max_threads() != open_threads) omp_set_num_threads(open_threads);
    for (int k = 0; k < calls; k++) cases[i].call();
    return 0;
}
#endif
