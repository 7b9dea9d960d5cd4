/* A C interface to VQF's C++ class (imu_hinge/fusion/_vqf/vqf.cpp, vendored unchanged), for the fusion loops of
 * _fusion_loops.c. An opaque handle; arrays are double (vqf_real_t is double: VQF_SINGLE_PRECISION is not set). */
#ifndef IMU_HINGE_VQF_SHIM_H
#define IMU_HINGE_VQF_SHIM_H
#ifdef __cplusplus
extern "C" {
#endif

/* The parameters given (the rest are vqf's defaults), in this order: tauAcc, motionBiasEstEnabled (0/1),
 * restBiasEstEnabled (0/1), biasSigmaInit, biasForgettingTime, biasClip, restMinT, restThGyr, restThAcc. */
enum { VQFC_TAU_ACC, VQFC_MOTION_BIAS, VQFC_REST_BIAS, VQFC_BIAS_SIGMA_INIT, VQFC_BIAS_FORGETTING, VQFC_BIAS_CLIP,
       VQFC_REST_MIN_T, VQFC_REST_TH_GYR, VQFC_REST_TH_ACC, VQFC_N_PARAMS };

void *vqfc_new(double gyr_ts_s, const double *params); /* NULL when out of memory */
void vqfc_free(void *v);
void vqfc_reset(void *v);
void vqfc_update(void *v, const double *gyr, const double *acc);
void vqfc_quats(const void *v, double *out8); /* quat6D (accQuat * gyrQuat), then quat3D (gyrQuat) */
void vqfc_quat6d(const void *v, double *out4); /* quat6D alone */
void vqfc_bias_only(const void *v, double *out3); /* the bias estimate (no uncertainty computed) */
double vqfc_bias(const void *v, double *out3); /* returns vqf's uncertainty of it (getBiasEstimate), rad/s */
void vqfc_set_bias(void *v, const double *bias3, double sigma); /* sigma <= 0: its uncertainty kept */
/* state: gyrQuat (4), accQuat (4), accLpState (6), lastAccLp (3); set writes the same fields */
void vqfc_get_state(const void *v, double *out17);
void vqfc_set_state(void *v, const double *in17);
void vqfc_acc_lp_coeffs(const void *v, double *out5); /* accLpB (3), accLpA (2) */
void vqfc_quat_multiply(const double *q1, const double *q2, double *out4); /* VQF::quatMultiply */

#ifdef __cplusplus
}
#endif
#endif
