// oneDNN 2.6 timings of the cases the NormKernels bench measures (issue 11/12's "faster than oneDNN in the same run").
// Build: g++ -O2 -std=c++17 bench_onednn.cpp -ldnnl -o bench_onednn ; run: OMP_NUM_THREADS=1 ./bench_onednn
// Prints one line per case: the bench's case id and the median ms per call (see median_ms). CPU engine, f32.
#include <oneapi/dnnl/dnnl.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <unordered_map>
#include <random>
#include <string>
#include <vector>

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

static void fill(memory& m) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-0.5f, 1.5f);
    float* p = static_cast<float*>(m.get_data_handle());
    size_t n = m.get_desc().get_size() / sizeof(float);
    for (size_t i = 0; i < n; i++) p[i] = u(rng);
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
    fill(mean); fill(var); fill(scale); fill(shift);
    auto args = [&] { return std::unordered_map<int, memory>{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean},
        {DNNL_ARG_VARIANCE, var}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}}; };
    auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
    {
        // Inference: global statistics, scale and shift.
        auto pd = batch_normalization_forward::primitive_desc(batch_normalization_forward::desc(prop_kind::forward_inference, md, 1e-5f,
            flags | normalization_flags::use_global_stats), eng);
        batch_normalization_forward p(pd);
        auto a = args();
        std::printf("bn-infer-%s-%s %.4f\n", name, shape.name, median_ms([&] { p.execute(s, a); s.wait(); }));
    }
    {
        // Training: batch statistics computed and written.
        auto pd = batch_normalization_forward::primitive_desc(batch_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
        batch_normalization_forward p(pd);
        auto a = args();
        std::printf("bn-train-%s-%s %.4f\n", name, shape.name, median_ms([&] { p.execute(s, a); s.wait(); }));
    }
    if (std::string(shape.name) == "S1") {
        // Inference with the fused ReLU (ResNet's BN + ReLU; oneDNN 2.6 has no fused residual add).
        auto pd = batch_normalization_forward::primitive_desc(batch_normalization_forward::desc(prop_kind::forward_inference, md, 1e-5f,
            flags | normalization_flags::use_global_stats | normalization_flags::fuse_norm_relu), eng);
        batch_normalization_forward p(pd);
        auto a = args();
        std::printf("bn-relu-infer-%s-%s %.4f\n", name, shape.name, median_ms([&] { p.execute(s, a); s.wait(); }));
    }
    if (lrn) {
        // Across channels, size 5, alpha 1e-4, beta 0.75, k 1 (PyTorch's defaults).
        auto pd = lrn_forward::primitive_desc(
            lrn_forward::desc(prop_kind::forward_inference, algorithm::lrn_across_channels, md, 5, 1e-4f, 0.75f, 1.0f), eng);
        lrn_forward p(pd);
        std::printf("lrn5-%s-%s %.4f\n", name, shape.name, median_ms([&] { p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}); s.wait(); }));
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
    std::printf("bn-bwd-%s-%s %.4f\n", name, shape.name, median_ms([&] { b.execute(s, args); s.wait(); }));
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
    std::printf("ln-last-%s %.4f\n", shapeName, median_ms([&] { p.execute(s, fargs); s.wait(); }));
    memory ddst(md, eng), dsrc(md, eng), dscale(cd, eng), dshift(cd, eng);
    fill(ddst);
    p.execute(s, fargs);
    s.wait();
    auto bpd = layer_normalization_backward::primitive_desc(
        layer_normalization_backward::desc(prop_kind::backward, md, md, 1e-5f, flags), eng, pd);
    layer_normalization_backward b(bpd);
    auto args = backward_args(src, ddst, mean, var, scale, shift, dsrc, dscale, dshift);
    std::printf("ln-bwd-last-%s %.4f\n", shapeName, median_ms([&] { b.execute(s, args); s.wait(); }));
}

int main() {
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
    return 0;
}
