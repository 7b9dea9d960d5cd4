// The C interface of _vqf_shim.h around VQF's C++ class (vendored in _vqf/, unchanged).
#include "_vqf_shim.h"

#include <algorithm>
#include <new>

#include "_vqf/vqf.hpp"

static_assert(sizeof(vqf_real_t) == sizeof(double), "VQF must be built in double precision");

extern "C" {

void *vqfc_new(double gyr_ts_s, const double *p) {
    VQFParams params;
    params.tauAcc = p[VQFC_TAU_ACC];
    params.motionBiasEstEnabled = p[VQFC_MOTION_BIAS] != 0.0;
    params.restBiasEstEnabled = p[VQFC_REST_BIAS] != 0.0;
    params.biasSigmaInit = p[VQFC_BIAS_SIGMA_INIT];
    params.biasForgettingTime = p[VQFC_BIAS_FORGETTING];
    params.biasClip = p[VQFC_BIAS_CLIP];
    params.restMinT = p[VQFC_REST_MIN_T];
    params.restThGyr = p[VQFC_REST_TH_GYR];
    params.restThAcc = p[VQFC_REST_TH_ACC];
    return new (std::nothrow) VQF(params, gyr_ts_s);
}

void vqfc_free(void *v) { delete static_cast<VQF *>(v); }

void vqfc_reset(void *v) { static_cast<VQF *>(v)->resetState(); }

void vqfc_update(void *v, const double *gyr, const double *acc) { static_cast<VQF *>(v)->update(gyr, acc); }

void vqfc_quats(const void *v, double *out8) {
    const VQF *f = static_cast<const VQF *>(v);
    f->getQuat6D(out8);
    f->getQuat3D(out8 + 4);
}

void vqfc_quat6d(const void *v, double *out4) { static_cast<const VQF *>(v)->getQuat6D(out4); }

void vqfc_bias_only(const void *v, double *out3) {
    const VQFState &s = static_cast<const VQF *>(v)->getState();
    std::copy(s.bias, s.bias + 3, out3);
}

double vqfc_bias(const void *v, double *out3) { return static_cast<const VQF *>(v)->getBiasEstimate(out3); }

void vqfc_set_bias(void *v, const double *bias3, double sigma) {
    double b[3] = {bias3[0], bias3[1], bias3[2]};
    static_cast<VQF *>(v)->setBiasEstimate(b, sigma);
}

void vqfc_get_state(const void *v, double *out) {
    const VQFState &s = static_cast<const VQF *>(v)->getState();
    std::copy(s.gyrQuat, s.gyrQuat + 4, out);
    std::copy(s.accQuat, s.accQuat + 4, out + 4);
    std::copy(s.accLpState, s.accLpState + 6, out + 8);
    std::copy(s.lastAccLp, s.lastAccLp + 3, out + 14);
}

void vqfc_set_state(void *v, const double *in) {
    VQF *f = static_cast<VQF *>(v);
    VQFState s = f->getState();
    std::copy(in, in + 4, s.gyrQuat);
    std::copy(in + 4, in + 8, s.accQuat);
    std::copy(in + 8, in + 14, s.accLpState);
    std::copy(in + 14, in + 17, s.lastAccLp);
    f->setState(s);
}

void vqfc_acc_lp_coeffs(const void *v, double *out5) {
    const VQFCoefficients &c = static_cast<const VQF *>(v)->getCoeffs();
    std::copy(c.accLpB, c.accLpB + 3, out5);
    std::copy(c.accLpA, c.accLpA + 2, out5 + 3);
}

void vqfc_quat_multiply(const double *q1, const double *q2, double *out4) { VQF::quatMultiply(q1, q2, out4); }

}  // extern "C"
