// oneDNN 2.6 timings of the cases the NormKernels bench measures (issue 11/12's "faster than oneDNN in the same run").
// Build: g++ -O2 -std=c++17 bench_onednn.cpp -ldnnl -o bench_onednn ; run: OMP_NUM_THREADS=1 ./bench_onednn
// Prints one line per case: id, median ms of 15 rounds (after 5 warm-up calls), the layout. CPU engine, f32.
#include <oneapi/dnnl/dnnl.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <unordered_map>
#include <random>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

static double median_ms(const std::function<void()>& call) {
    for (int i = 0; i < 5; i++) call();
    std::vector<double> t;
    for (int r = 0; r < 15; r++) {
        auto t0 = std::chrono::steady_clock::now();
        call();
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
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

int main() {
    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    const memory::dims s1 = {32, 64, 56, 56};
    for (tag layout : {tag::nchw, tag::nhwc}) {
        const char* name = layout == tag::nchw ? "nchw" : "nhwc";
        memory::desc md(s1, dt::f32, layout);
        memory src(md, eng), dst(md, eng);
        fill(src);
        memory::desc cd({64}, dt::f32, tag::x);
        memory mean(cd, eng), var(cd, eng), scale(cd, eng), shift(cd, eng);
        fill(mean); fill(var); fill(scale); fill(shift);
        // BatchNorm inference (global statistics, scale and shift).
        {
            auto flags = normalization_flags::use_global_stats | normalization_flags::use_scale | normalization_flags::use_shift;
            auto pd = batch_normalization_forward::primitive_desc(
                batch_normalization_forward::desc(prop_kind::forward_inference, md, 1e-5f, flags), eng);
            batch_normalization_forward p(pd);
            double ms = median_ms([&] { p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
                {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}}); s.wait(); });
            std::printf("bn-infer-%s-S1 %.3f\n", name, ms);
        }
        // BatchNorm training (batch statistics computed and written).
        {
            auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
            auto pd = batch_normalization_forward::primitive_desc(
                batch_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
            batch_normalization_forward p(pd);
            double ms = median_ms([&] { p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
                {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}}); s.wait(); });
            std::printf("bn-train-%s-S1 %.3f\n", name, ms);
            // The same with the fused ReLU (ResNet's BN + ReLU; oneDNN 2.6 has no fused residual add).
            auto pdr = batch_normalization_forward::primitive_desc(
                batch_normalization_forward::desc(prop_kind::forward_inference, md, 1e-5f,
                    flags | normalization_flags::use_global_stats | normalization_flags::fuse_norm_relu), eng);
            batch_normalization_forward pr(pdr);
            double msr = median_ms([&] { pr.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
                {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}}); s.wait(); });
            std::printf("bn-relu-infer-%s-S1 %.3f\n", name, msr);
        }
        // LocalResponseNorm across channels, size 5, alpha 1e-4, beta 0.75, k 1 (PyTorch's defaults).
        {
            auto pd = lrn_forward::primitive_desc(
                lrn_forward::desc(prop_kind::forward_inference, algorithm::lrn_across_channels, md, 5, 1e-4f, 0.75f, 1.0f), eng);
            lrn_forward p(pd);
            double ms = median_ms([&] { p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}); s.wait(); });
            std::printf("lrn5-%s-S1 %.3f\n", name, ms);
        }
    }
    // BatchNorm training backward (prop_kind::backward: diff_src, diff_scale, diff_shift from the batch statistics), S1 and
    // S2 (32x512x7x7), both layouts: issue 11's "channels-last BN backward at or below oneDNN".
    for (const auto& [shape, shapeName] : {std::pair{memory::dims{32, 64, 56, 56}, "S1"}, std::pair{memory::dims{32, 512, 7, 7}, "S2"}}) {
        for (tag layout : {tag::nchw, tag::nhwc}) {
            const char* name = layout == tag::nchw ? "nchw" : "nhwc";
            memory::desc md(shape, dt::f32, layout);
            memory src(md, eng), dst(md, eng), ddst(md, eng), dsrc(md, eng);
            fill(src); fill(ddst);
            memory::desc cd({shape[1]}, dt::f32, tag::x);
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
            double ms = median_ms([&] { b.execute(s, args); s.wait(); });
            std::printf("bn-bwd-%s-%s %.3f\n", name, shapeName, ms);
        }
    }
    // LayerNorm over the last dim, S4 [8192, 768], training (statistics written).
    {
        memory::desc md({8192, 768}, dt::f32, tag::ab);
        memory src(md, eng), dst(md, eng);
        fill(src);
        memory::desc sd({8192}, dt::f32, tag::a), cd({768}, dt::f32, tag::a);
        memory mean(sd, eng), var(sd, eng), scale(cd, eng), shift(cd, eng);
        fill(scale); fill(shift);
        auto flags = normalization_flags::use_scale | normalization_flags::use_shift;
        auto pd = layer_normalization_forward::primitive_desc(
            layer_normalization_forward::desc(prop_kind::forward_training, md, 1e-5f, flags), eng);
        layer_normalization_forward p(pd);
        double ms = median_ms([&] { p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
            {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}}); s.wait(); });
        std::printf("ln-last-S4 %.3f\n", ms);
        // Its backward (diff_src, diff_scale, diff_shift from the saved statistics).
        memory ddst(md, eng), dsrc(md, eng), dscale(cd, eng), dshift(cd, eng);
        fill(ddst);
        p.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var},
            {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift}});
        s.wait();
        auto bpd = layer_normalization_backward::primitive_desc(
            layer_normalization_backward::desc(prop_kind::backward, md, md, 1e-5f, flags), eng, pd);
        layer_normalization_backward b(bpd);
        auto args = backward_args(src, ddst, mean, var, scale, shift, dsrc, dscale, dshift);
        double msb = median_ms([&] { b.execute(s, args); s.wait(); });
        std::printf("ln-bwd-last-S4 %.3f\n", msb);
    }
    return 0;
}
