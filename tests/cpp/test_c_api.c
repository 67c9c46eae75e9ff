/* C ABI: known values, and every error coming back as a status with a message. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <lossfn/lossfn.h>

static int failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, __LINE__, #cond, \
              lossfn_last_error());                                              \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * (1 + fabs(b)); }
static int close_f32(double a, double b) { return fabs(a - b) <= 1e-6 * (1 + fabs(b)); }
/* the call failed with a value error whose message mentions needle */
static int value_error(lossfn_status status, const char* needle) {
  return status == LOSSFN_ERROR_VALUE && strstr(lossfn_last_error(), needle) != NULL;
}

static void row_losses(void);
static void ctc(void);
static void overlap(void);
static void lovasz(void);
static void images(void);
static void perceptual(void);
static void pairs(void);
static void centers(void);
static void pairwise(void);

int main(void) {
  const double pred[3] = {1.0, 2.0, 3.0}, target[3] = {1.0, 1.0, 1.0};
  double value = 0, grad[3], hess[3], loss[3];
  const double delta2[1] = {2.0}, bad_delta[1] = {-1.0};

  CHECK(strlen(lossfn_version()) > 0);
  /* Thread counts are bounded: an impossible count is an error, not a crash at the next call. */
  {
    const int before = lossfn_get_num_threads();
    CHECK(lossfn_set_num_threads(100000) == LOSSFN_ERROR_VALUE && strstr(lossfn_last_error(), "n: ") != NULL);
    CHECK(lossfn_set_num_threads(0) == LOSSFN_ERROR_VALUE && lossfn_set_num_threads(-5) == LOSSFN_ERROR_VALUE);
    CHECK(lossfn_get_num_threads() == before);
    CHECK(lossfn_set_num_threads(1024) == LOSSFN_OK && lossfn_get_num_threads() == 1024);
    CHECK(lossfn_set_num_threads(before) == LOSSFN_OK);
  }
  CHECK(lossfn_num_losses() == 24);
  CHECK(strcmp(lossfn_loss_name(2), "huber") == 0);
  CHECK(lossfn_num_params("huber") == 1 && strcmp(lossfn_param_name("huber", 0), "delta") == 0);
  CHECK(lossfn_param_default("huber", 0) == 1.0 && lossfn_num_params("nope") == -1);
  CHECK(lossfn_isa_available("baseline") == 1);

  CHECK(lossfn_mse_value_and_grad_f64(&value, NULL, grad, NULL, pred, target, NULL, NULL, 3, NULL,
                                      LOSSFN_REDUCTION_MEAN) == LOSSFN_OK);
  CHECK(close_to(value, 5.0 / 3) && close_to(grad[2], 4.0 / 3));
  CHECK(lossfn_huber_value_f64(&value, NULL, pred, target, NULL, NULL, 3, delta2, LOSSFN_REDUCTION_SUM) == LOSSFN_OK);
  CHECK(close_to(value, 2.5));
  CHECK(lossfn_huber_hess_f64(hess, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_SUM) == LOSSFN_OK);
  CHECK(hess[0] == 1.0 && hess[2] == 0.0);
  CHECK(lossfn_mae_value_f64(NULL, loss, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_NONE) == LOSSFN_OK);
  CHECK(loss[2] == 2.0);
  {
    const float x[2] = {0.0f, 0.0f}, y[2] = {0.0f, 1.0f};
    float g[2];
    CHECK(lossfn_bce_with_logits_grad_f32(g, NULL, x, y, NULL, NULL, 2, NULL, LOSSFN_REDUCTION_SUM, 2.0, NULL) == LOSSFN_OK);
    CHECK(g[0] == 1.0f && g[1] == -1.0f);
  }

  /* errors: status and message, never a crash */
  CHECK(lossfn_huber_value_f64(&value, NULL, pred, target, NULL, NULL, 3, bad_delta, LOSSFN_REDUCTION_MEAN) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "delta") != NULL);
  CHECK(lossfn_mse_value_f64(&value, NULL, NULL, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "pred") != NULL);
  CHECK(lossfn_mse_grad_f64(NULL, NULL, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN, 1.0, NULL) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "grad") != NULL);
  CHECK(lossfn_mse_value_f64(&value, NULL, pred, target, NULL, NULL, 3, NULL, (lossfn_reduction)7) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "reduction") != NULL);
  CHECK(lossfn_gaussian_nll_value_f64(&value, NULL, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "var") != NULL);
  CHECK(lossfn_hinge_value_f64(&value, NULL, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_OK);
  CHECK(lossfn_hinge_value_f64(&value, NULL, pred, pred, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "target") != NULL);
  CHECK(lossfn_set_num_threads(0) == LOSSFN_ERROR_VALUE);
  /* sizes no memory can hold are errors, not a silent no-op (the block count wrapped) or a crash */
  CHECK(lossfn_mse_value_f64(&value, NULL, pred, target, NULL, NULL, SIZE_MAX, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_ERROR_VALUE);
  CHECK(strstr(lossfn_last_error(), "pred") != NULL && strstr(lossfn_last_error(), "too large") != NULL);
  CHECK(lossfn_mse_value_f64(&value, NULL, pred, target, NULL, NULL, SIZE_MAX / 8 + 1, NULL, LOSSFN_REDUCTION_SUM) == LOSSFN_ERROR_VALUE);
  CHECK(lossfn_mse_grad_f64(grad, NULL, pred, target, NULL, NULL, ((size_t)1 << 62), NULL, LOSSFN_REDUCTION_SUM, 1.0, NULL) == LOSSFN_ERROR_VALUE);
  CHECK(lossfn_mse_value_f32(&value, NULL, (const float*)pred, (const float*)target, NULL, NULL, SIZE_MAX / 4, NULL, LOSSFN_REDUCTION_SUM) == LOSSFN_ERROR_VALUE);
  CHECK(lossfn_set_isa("sse9") == LOSSFN_ERROR_VALUE && strstr(lossfn_last_error(), "isa") != NULL);
  CHECK(lossfn_set_isa("baseline") == LOSSFN_OK && strcmp(lossfn_isa(), "baseline") == 0);
  CHECK(lossfn_mse_value_f64(&value, NULL, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_OK);
  CHECK(close_to(value, 5.0 / 3) && lossfn_last_error()[0] == '\0');

  row_losses();
  ctc();
  overlap();
  lovasz();
  images();
  perceptual();
  pairs();
  centers();
  pairwise();

  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("C ABI: all checks passed\n");
  return failures ? 1 : 0;
}

/* Row losses and softmax utilities: logits [[1, 2, 3], [1, 0, -1]], labels [2, 0]; each row's
 * softmax cross-entropy is lse(x) - x_y = L0. */
static void row_losses(void) {
  const double x[6] = {1, 2, 3, 1, 0, -1};
  const float xf[6] = {1, 2, 3, 1, 0, -1};
  const int64_t y[2] = {2, 0}, y21[2] = {2, 1}, y_ign[2] = {2, -100}, y_bad[2] = {3, 0};
  const double L0 = log(1 + exp(-1.0) + exp(-2.0));
  const double cw[3] = {1, 2, 3}, cw_bad[3] = {1, -1, 1}, sw[2] = {1, 3}, smooth[1] = {0.1}, smooth_bad[1] = {1.5};
  const double go[2] = {10, -1}, up[6] = {1, 0, 0, 0, 1, 0}, onehot[6] = {0, 0, 1, 1, 0, 0};
  double value = 0, prob[6], out[6], g[6], per[2], lse[2];
  float gf[6];
  int i;
  lossfn_rows_f64 in = {0};
  lossfn_rows_f32 inf = {0};
  in.outer = 2, in.classes = 3, in.inner = 1, in.logits = x, in.labels = y, in.reduction = LOSSFN_REDUCTION_MEAN;
  inf.outer = 2, inf.classes = 3, inf.inner = 1, inf.logits = xf, inf.labels = y, inf.reduction = LOSSFN_REDUCTION_SUM;
  for (i = 0; i < 6; ++i) prob[i] = exp(x[i] - (i < 3 ? 3 + L0 : 1 + L0));

  /* catalogue */
  CHECK(lossfn_num_row_losses() == 11);
  CHECK(strcmp(lossfn_row_loss_name(0), "softmax_cross_entropy") == 0 && lossfn_row_loss_name(11) == NULL);
  CHECK(strcmp(lossfn_row_loss_name(10), "log_softmax") == 0 && lossfn_row_loss_name(-1) == NULL);
  CHECK(lossfn_num_params("multi_margin") == 2 && strcmp(lossfn_param_name("multi_margin", 1), "margin") == 0);
  CHECK(lossfn_param_default("categorical_crossentropy", 0) == 1e-7 && lossfn_param_default("multi_margin", 0) == 1.0);
  CHECK(lossfn_num_params("softmax") == 0 && lossfn_param_name("nll", 0) == NULL);
  CHECK(lossfn_row_loss_target("softmax_cross_entropy") == LOSSFN_ROW_TARGET_LABELS_OR_DENSE);
  CHECK(lossfn_row_loss_target("nll") == LOSSFN_ROW_TARGET_LABELS && lossfn_row_loss_target("categorical_hinge") == LOSSFN_ROW_TARGET_DENSE);
  CHECK(lossfn_row_loss_target("softmax") == LOSSFN_ROW_TARGET_NONE && lossfn_row_loss_target("huber") == -1);
  CHECK(strcmp(lossfn_row_loss_class_weight("softmax_focal"), "alpha") == 0);
  CHECK(strcmp(lossfn_row_loss_class_weight("nll"), "class_weight") == 0 && lossfn_row_loss_class_weight("logsumexp") == NULL);
  CHECK(lossfn_row_loss_ignore_index("nll") == 1 && lossfn_row_loss_ignore_index("softmax_focal") == 0);
  CHECK(lossfn_row_loss_full_output("softmax") == 1 && lossfn_row_loss_full_output("logsumexp") == 0);
  CHECK(lossfn_row_loss_full_output(NULL) == -1 && lossfn_row_loss_ignore_index("nope") == -1);

  /* a shape no memory can hold */
  {
    lossfn_rows_f64 big = in;
    big.outer = SIZE_MAX / 16, big.classes = 3, big.inner = 1;
    CHECK(lossfn_softmax_cross_entropy_value_f64(&big, &value, NULL) == LOSSFN_ERROR_VALUE);
    CHECK(strstr(lossfn_last_error(), "too large") != NULL);
    big.outer = SIZE_MAX, big.inner = 2;
    CHECK(lossfn_softmax_cross_entropy_value_f64(&big, &value, NULL) == LOSSFN_ERROR_VALUE);
  }

  /* softmax_cross_entropy: value, value and gradient (softmax - onehot) / rows, per row */
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, L0));
  CHECK(lossfn_softmax_cross_entropy_value_and_grad_f64(&in, &value, NULL, g) == LOSSFN_OK && close_to(value, L0));
  CHECK(close_to(g[0], prob[0] / 2) && close_to(g[2], (prob[2] - 1) / 2) && close_to(g[3], (prob[3] - 1) / 2));
  in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, NULL, per) == LOSSFN_OK && close_to(per[0], L0) && close_to(per[1], L0));
  CHECK(lossfn_softmax_cross_entropy_grad_f64(&in, g, 1.0, go) == LOSSFN_OK);
  CHECK(close_to(g[2], 10 * (prob[2] - 1)) && close_to(g[4], -prob[4]));
  in.reduction = LOSSFN_REDUCTION_MEAN;
  /* float, sum, upstream gradient 2 */
  CHECK(lossfn_softmax_cross_entropy_grad_f32(&inf, gf, 2.0, NULL) == LOSSFN_OK && close_f32(gf[2], 2 * (prob[2] - 1)));
  CHECK(lossfn_softmax_cross_entropy_value_f32(&inf, &value, NULL) == LOSSFN_OK && close_f32(value, 2 * L0));

  /* hyper-parameters, class weights, sample weights, a dense target, ignore_index */
  in.params = smooth;
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, L0 + 0.1));
  in.params = NULL, in.labels = y21, in.class_weight = cw; /* (3 L0 + 2 (L0 + 1)) / 5 */
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, L0 + 0.4));
  in.class_weight = NULL, in.weight = sw; /* (L0 + 3 (L0 + 1)) / 4 */
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, L0 + 0.75));
  in.weight = NULL, in.labels = NULL, in.target = onehot;
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, L0));
  in.target = NULL, in.labels = y_ign, in.has_ignore_index = 1, in.ignore_index = -100;
  CHECK(lossfn_softmax_cross_entropy_value_and_grad_f64(&in, &value, NULL, g) == LOSSFN_OK && close_to(value, L0));
  CHECK(close_to(g[2], prob[2] - 1) && g[3] == 0 && g[4] == 0 && g[5] == 0);
  CHECK(lossfn_nll_value_f64(&in, &value, NULL) == LOSSFN_OK && value == -3.0);
  in.has_ignore_index = 0, in.labels = y;
  CHECK(lossfn_nll_value_f64(&in, &value, NULL) == LOSSFN_OK && value == -2.0);
  {
    const double mm[2] = {2, 2};
    in.params = mm;
    CHECK(lossfn_multi_margin_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, 1.0 / 3));
    in.params = NULL;
  }
  CHECK(lossfn_softmax_focal_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, 0.04567779896788493));

  /* axis = 1: (2, 3, 2) logits, outer 2, inner 2 (lossfn.softmax_cross_entropy(x3, y3, axis=1)) */
  {
    double x3[12], g3[12];
    const int64_t y3[4] = {0, 2, 1, 1};
    lossfn_rows_f64 nchw = {0};
    for (i = 0; i < 12; ++i) x3[i] = 0.5 * i - 1;
    nchw.outer = 2, nchw.classes = 3, nchw.inner = 2, nchw.logits = x3, nchw.labels = y3;
    nchw.reduction = LOSSFN_REDUCTION_MEAN;
    CHECK(lossfn_softmax_cross_entropy_value_and_grad_f64(&nchw, &value, NULL, g3) == LOSSFN_OK);
    CHECK(close_to(value, 1.4076059644443806) && close_to(g3[0], -0.2274923567074049) &&
          close_to(g3[5], -0.08368976105629455));
  }

  /* utilities: the output in `loss`, the vector-Jacobian product with grad_output_array */
  {
    lossfn_rows_f64 xs = {0};
    xs.outer = 2, xs.classes = 3, xs.inner = 1, xs.logits = x;
    CHECK(lossfn_softmax_value_f64(&xs, NULL, out) == LOSSFN_OK && close_to(out[0], prob[0]) && close_to(out[5], prob[5]));
    CHECK(lossfn_logsumexp_value_and_grad_f64(&xs, NULL, lse, g) == LOSSFN_OK);
    CHECK(close_to(lse[0], 3 + L0) && close_to(lse[1], 1 + L0) && close_to(g[2], prob[2]) && close_to(g[3], prob[3]));
    CHECK(lossfn_softmax_grad_f64(&xs, g, 1.0, up) == LOSSFN_OK); /* p (u - <p, u>) */
    CHECK(close_to(g[0], prob[0] * (1 - prob[0])) && close_to(g[1], -prob[1] * prob[0]));
    CHECK(close_to(g[4], prob[4] * (1 - prob[4])) && close_to(g[3], -prob[3] * prob[4]));
    CHECK(lossfn_log_softmax_grad_f64(&xs, g, 1.0, NULL) == LOSSFN_OK && close_to(g[1], 1 - 3 * prob[1]));
    /* errors */
    CHECK(value_error(lossfn_softmax_grad_f64(&xs, g, 2.0, NULL), "grad_output"));
    CHECK(value_error(lossfn_softmax_value_f64(&xs, &value, out), "value"));
    xs.weight = sw;
    CHECK(value_error(lossfn_log_softmax_value_f64(&xs, NULL, out), "weight"));
  }

  /* errors: a status and a message naming the argument, never a crash */
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(NULL, &value, NULL), "in"));
  CHECK(value_error(lossfn_softmax_grad_f32(NULL, gf, 1.0, NULL), "in"));
  CHECK(value_error(lossfn_softmax_cross_entropy_grad_f64(&in, NULL, 1.0, NULL), "grad"));
  CHECK(value_error(lossfn_nll_value_and_grad_f64(&in, &value, NULL, NULL), "grad"));
  in.labels = y_bad;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "label 3"));
  in.labels = NULL;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "target"));
  in.labels = y, in.logits = NULL;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "logits"));
  in.logits = x, in.params = smooth_bad;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "label_smoothing"));
  in.params = NULL, in.class_weight = cw_bad;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "class_weight"));
  CHECK(value_error(lossfn_softmax_focal_value_f64(&in, &value, NULL), "alpha"));
  in.class_weight = NULL, in.reduction = (lossfn_reduction)7;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "reduction"));
  in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, NULL, per), "loss"));
  CHECK(value_error(lossfn_softmax_cross_entropy_grad_f64(&in, g, 1.0, go), "grad_output"));
  CHECK(value_error(lossfn_categorical_hinge_value_f64(&in, &value, NULL), "target"));
  in.inner = 0;
  CHECK(value_error(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL), "inner"));
  in.inner = 1, in.has_ignore_index = 1;
  CHECK(value_error(lossfn_multi_margin_value_f64(&in, &value, NULL), "ignore_index"));
  in.has_ignore_index = 0;
  CHECK(lossfn_softmax_cross_entropy_value_f64(&in, &value, NULL) == LOSSFN_OK && lossfn_last_error()[0] == '\0');
}

/* CTC on uniform probabilities over 3 classes and 3 frames: p(labels) = (number of alignments)
 * / 27. Labels (1, 1) have one alignment (1, blank, 1); (2) has six. */
static void ctc(void) {
  double lp[18], grad[18], value = 0, per[2];
  float lp32[18], grad32[18];
  const int64_t targets[4] = {1, 1, 2, 2}, il[2] = {3, 3}, tl[2] = {2, 1}, il_bad[2] = {3, 4};
  const int64_t concatenated[3] = {1, 1, 2};
  const double want = 3 * log(3.0) + log(27.0 / 6.0);
  double sum = 0;
  int i;
  lossfn_ctc_f64 in;
  lossfn_ctc_f32 in32;
  for (i = 0; i < 18; ++i) lp[i] = log(1.0 / 3.0), lp32[i] = (float)lp[i];
  memset(&in, 0, sizeof in);
  in.max_time = 3, in.batch = 2, in.classes = 3, in.log_probs = lp;
  in.targets = targets, in.targets_size = 4, in.targets_width = 2;
  in.input_lengths = il, in.target_lengths = tl, in.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_ctc_value_and_grad_f64(&in, &value, NULL, grad) == LOSSFN_OK && close_to(value, want));
  for (i = 0; i < 18; ++i) sum += grad[i];
  CHECK(close_to(sum, -6.0)); /* minus the posteriors: one per frame and sample */
  in.targets = concatenated, in.targets_size = 3, in.targets_width = 0, in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_ctc_value_f64(&in, NULL, per) == LOSSFN_OK && close_to(per[0], 3 * log(3.0)) &&
        close_to(per[1], log(4.5)));
  in.reduction = LOSSFN_REDUCTION_MEAN; /* (3 ln 3 / 2 + ln 4.5) / 2 */
  CHECK(lossfn_ctc_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, (1.5 * log(3.0) + log(4.5)) / 2));
  memcpy(&in32, &in, sizeof in32);
  in32.log_probs = lp32;
  CHECK(lossfn_ctc_grad_f32(&in32, grad32, 2.0, NULL) == LOSSFN_OK);
  CHECK(lossfn_ctc_grad_f64(&in, grad, 2.0, NULL) == LOSSFN_OK);
  for (i = 0; i < 18; ++i) CHECK(close_f32(grad32[i], grad[i]));
  CHECK(close_to(grad[1], -2.0 / 2 / 2)); /* frame 0, sample 0 is surely label 1: -k, k = 2 / (N * L) */
  CHECK(lossfn_ctc_value_and_grad_f32(&in32, &value, NULL, grad32) == LOSSFN_OK &&
        close_f32(value, (1.5 * log(3.0) + log(4.5)) / 2));

  /* errors: a status and a message naming the argument */
  CHECK(value_error(lossfn_ctc_value_f64(NULL, &value, NULL), "in"));
  CHECK(value_error(lossfn_ctc_grad_f64(&in, NULL, 1.0, NULL), "grad"));
  in.blank = 1;
  CHECK(value_error(lossfn_ctc_value_f64(&in, &value, NULL), "is the blank"));
  in.blank = 3;
  CHECK(value_error(lossfn_ctc_value_f64(&in, &value, NULL), "blank"));
  in.blank = 0, in.input_lengths = il_bad;
  CHECK(value_error(lossfn_ctc_value_f64(&in, &value, NULL), "input_lengths: sample 1"));
  in.input_lengths = il, in.targets_size = 2;
  CHECK(value_error(lossfn_ctc_value_f64(&in, &value, NULL), "target_lengths"));
  in.targets_size = 3, in.log_probs = NULL;
  CHECK(value_error(lossfn_ctc_value_f64(&in, &value, NULL), "log_probs"));
  in.log_probs = lp;
  CHECK(lossfn_ctc_value_f64(&in, &value, NULL) == LOSSFN_OK && lossfn_last_error()[0] == '\0');
}

/* dice of p = (1, 0, .5, .5), t = (1, 0, 1, 0), smooth 1: I = 1.5, P = G = 2, loss 1 - 4/5 = 0.2,
 * d loss / d p_i = -2/5 t_i + 4/25. */
static void overlap(void) {
  double p[4] = {1, 0, .5, .5}, t[4] = {1, 0, 1, 0}, grad[4], value = 0, per[2];
  float p32[4], t32[4], grad32[4];
  double probs[4] = {.8, .3, .2, .7}, one_hot[4] = {1, 0, 0, 1}, g_dense[4], g_labels[4], v_dense = 0, v_labels = 0;
  int64_t labels[2] = {0, 1}, bad_labels[2] = {0, 7};
  int i;
  lossfn_segment_f64 in;
  lossfn_segment_f32 in32;
  for (i = 0; i < 4; ++i) p32[i] = (float)p[i], t32[i] = (float)t[i];
  memset(&in, 0, sizeof in);
  in.batch = 1, in.outer = 1, in.classes = 1, in.inner = 4, in.pred = p, in.target = t;
  in.smooth = 1, in.alpha = .5, in.beta = .5, in.gamma = 1, in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_overlap_value_and_grad_f64(LOSSFN_DICE, &in, &value, NULL, grad) == LOSSFN_OK && close_to(value, 0.2));
  CHECK(close_to(grad[0], -0.24) && close_to(grad[1], 0.16) && close_to(grad[2], -0.24) && close_to(grad[3], 0.16));
  CHECK(lossfn_overlap_value_f64(LOSSFN_JACCARD, &in, &value, NULL) == LOSSFN_OK && close_to(value, 1 - 2.5 / 3.5));
  /* tversky with alpha = beta = 1 is jaccard; focal_tversky with gamma 2 its square */
  in.alpha = 1, in.beta = 1, in.gamma = 2;
  CHECK(lossfn_overlap_value_f64(LOSSFN_TVERSKY, &in, &value, NULL) == LOSSFN_OK && close_to(value, 1 - 2.5 / 3.5));
  CHECK(lossfn_overlap_value_f64(LOSSFN_FOCAL_TVERSKY, &in, &value, NULL) == LOSSFN_OK &&
        close_to(value, (1 - 2.5 / 3.5) * (1 - 2.5 / 3.5)));
  /* bce_dice's cross-entropy term: 0, 0, ln 2, ln 2 over four pixels */
  in.w_bce = 1, in.w_dice = 0;
  CHECK(lossfn_overlap_value_f64(LOSSFN_BCE_DICE, &in, &value, NULL) == LOSSFN_OK && close_to(value, log(2.0) / 2));
  in.w_dice = 1;
  CHECK(lossfn_overlap_value_f64(LOSSFN_BCE_DICE, &in, &value, NULL) == LOSSFN_OK &&
        close_to(value, log(2.0) / 2 + 0.2));
  in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_overlap_value_f64(LOSSFN_DICE, &in, NULL, per) == LOSSFN_OK && close_to(per[0], 0.2));
  memcpy(&in32, &in, sizeof in32);
  in32.pred = p32, in32.target = t32, in32.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_overlap_grad_f32(LOSSFN_DICE, &in32, grad32, 2.0, NULL) == LOSSFN_OK);
  CHECK(close_f32(grad32[0], -0.48) && close_f32(grad32[1], 0.32));

  /* two classes over two pixels: integer labels give what their one-hot masks give */
  memset(&in, 0, sizeof in);
  in.batch = 1, in.outer = 1, in.classes = 2, in.inner = 2, in.pred = probs, in.target = one_hot, in.smooth = 1;
  in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_overlap_value_and_grad_f64(LOSSFN_DICE, &in, &v_dense, NULL, g_dense) == LOSSFN_OK);
  in.target = NULL, in.labels = labels;
  CHECK(lossfn_overlap_value_and_grad_f64(LOSSFN_DICE, &in, &v_labels, NULL, g_labels) == LOSSFN_OK);
  CHECK(close_to(v_dense, v_labels));
  for (i = 0; i < 4; ++i) CHECK(close_to(g_dense[i], g_labels[i]));

  /* errors: a status and a message naming the argument */
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_DICE, NULL, &value, NULL), "in"));
  CHECK(value_error(lossfn_overlap_value_f64((lossfn_overlap_loss)9, &in, &value, NULL), "loss"));
  CHECK(value_error(lossfn_overlap_grad_f64(LOSSFN_DICE, &in, NULL, 1.0, NULL), "grad"));
  in.labels = bad_labels;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_DICE, &in, &value, NULL), "target: label 7"));
  in.labels = labels, in.target = one_hot;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_DICE, &in, &value, NULL), "target"));
  in.target = NULL, in.smooth = -1;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_DICE, &in, &value, NULL), "smooth"));
  in.smooth = 1, in.alpha = 0, in.beta = 0;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_TVERSKY, &in, &value, NULL), "alpha"));
  in.activation = 3;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_DICE, &in, &value, NULL), "activation"));
  in.activation = 2, in.w_bce = 1, in.w_dice = 1;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_BCE_DICE, &in, &value, NULL), "softmax"));
  in.activation = 0, in.w_bce = -1;
  CHECK(value_error(lossfn_overlap_value_f64(LOSSFN_BCE_DICE, &in, &value, NULL), "w_bce"));
  in.activation = 2;
  CHECK(lossfn_overlap_value_f64(LOSSFN_DICE, &in, &value, NULL) == LOSSFN_OK && lossfn_last_error()[0] == '\0');
}

/* Two samples of three pixels. Sample 0: errors 1 - s x = (0.5, 0, 3), sorted 3 (a 0), 0.5 (a 1),
 * 0 (a 0): J = (1/2, 1, 1), g = (1/2, 1/2, 0), loss 1.75. Sample 1: errors (1, 1, 4), sorted 4 (a 0),
 * then the two 1s: J = (1/3, 2/3, 1), loss 4/3 + 1/3 + 1/3 = 2. */
static void lovasz(void) {
  const double x[6] = {0.5, -1, 2, 0, 0, 3}, m[6] = {1, 0, 0, 1, 1, 0};
  const int64_t labels[6] = {1, 0, 0, 1, 1, 0}, bad[6] = {1, 0, 2, 1, 1, 0};
  float x32[6], m32[6], g32[6];
  double value = 0, grad[6], per[2];
  int i;
  lossfn_lovasz_f64 in;
  lossfn_lovasz_f32 in32;
  for (i = 0; i < 6; ++i) x32[i] = (float)x[i], m32[i] = (float)m[i];
  memset(&in, 0, sizeof in);
  in.batch = 2, in.pixels = 3, in.logits = x, in.masks = m, in.per_sample = 1, in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_lovasz_hinge_value_and_grad_f64(&in, &value, NULL, grad) == LOSSFN_OK && close_to(value, 1.875));
  CHECK(close_to(grad[0], -0.25) && grad[1] == 0.0 && close_to(grad[2], 0.25));
  CHECK(close_to(grad[3], -1.0 / 6) && close_to(grad[4], -1.0 / 6) && close_to(grad[5], 1.0 / 6));
  in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_lovasz_hinge_value_f64(&in, NULL, per) == LOSSFN_OK && close_to(per[0], 1.75) && close_to(per[1], 2.0));
  in.masks = NULL, in.labels = labels, in.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_lovasz_hinge_value_f64(&in, &value, NULL) == LOSSFN_OK && close_to(value, 3.75));
  memset(&in32, 0, sizeof in32);
  in32.batch = 2, in32.pixels = 3, in32.logits = x32, in32.masks = m32, in32.per_sample = 1;
  in32.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_lovasz_hinge_grad_f32(&in32, g32, 2.0, NULL) == LOSSFN_OK);
  CHECK(close_f32(g32[0], -1.0f) && g32[1] == 0.0f && close_f32(g32[5], 2.0f / 3));

  /* errors: a status and a message naming the argument */
  in.labels = bad;
  CHECK(value_error(lossfn_lovasz_hinge_value_f64(&in, &value, NULL), "masks: label 2 at pixel 2"));
  in.labels = labels, in.masks = m;
  CHECK(value_error(lossfn_lovasz_hinge_value_f64(&in, &value, NULL), "masks: pass either"));
  in.masks = NULL;
  CHECK(value_error(lossfn_lovasz_hinge_value_f64(NULL, &value, NULL), "in"));
  CHECK(value_error(lossfn_lovasz_hinge_grad_f64(&in, NULL, 1.0, NULL), "grad"));
  CHECK(value_error(lossfn_lovasz_hinge_value_f64(&in, NULL, per), "loss"));
}

/* Total variation of [[0, 1], [3, 5]]: |1 - 0| + |5 - 3| + |3 - 0| + |5 - 1| = 10, gradient
 * (-2, 0, 0, 2); isotropic sqrt(1 + 9) + 4 + 2. SSIM with a one-pixel window of x = (0.5, 0.2),
 * y = (0.5, 0.4): S = (2 x y + C1) / (x^2 + y^2 + C1) per pixel (the variances are 0), loss 1 - mean. */
static void images(void) {
  const double x[4] = {0, 1, 3, 5}, a[2] = {0.5, 0.2}, b[2] = {0.5, 0.4};
  const double c1 = 1e-4, s1 = (2 * 0.2 * 0.4 + c1) / (0.2 * 0.2 + 0.4 * 0.4 + c1);
  const ptrdiff_t nhwc[4] = {4, 1, 2, 1};
  double value = 0, grad[4], grad_y[2], per[1];
  float x32[4] = {0, 1, 3, 5}, g32[4];
  lossfn_image_f64 in;
  lossfn_image_f32 in32;
  memset(&in, 0, sizeof in);
  in.batch = 1, in.channels = 1, in.height = 2, in.width = 2, in.x = x, in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_total_variation_value_and_grad_f64(&in, &value, NULL, grad) == LOSSFN_OK && close_to(value, 10.0));
  CHECK(grad[0] == -2.0 && grad[1] == 0.0 && grad[2] == 0.0 && grad[3] == 2.0);
  in.isotropic = 1, in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_total_variation_value_f64(&in, NULL, per) == LOSSFN_OK && close_to(per[0], sqrt(10.0) + 6.0));
  in.strides = nhwc; /* one channel: NHWC strides address the same pixels */
  CHECK(lossfn_total_variation_value_f64(&in, NULL, per) == LOSSFN_OK && close_to(per[0], sqrt(10.0) + 6.0));
  memset(&in32, 0, sizeof in32);
  in32.batch = 1, in32.channels = 1, in32.height = 2, in32.width = 2, in32.x = x32;
  in32.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_total_variation_grad_f32(&in32, g32, 0.5, NULL) == LOSSFN_OK && g32[0] == -1.0f && g32[3] == 1.0f);

  memset(&in, 0, sizeof in);
  in.batch = 1, in.channels = 1, in.height = 1, in.width = 2, in.x = a, in.y = b, in.grad_y = grad_y;
  in.data_range = 1.0, in.win_size = 1, in.sigma = 1.5, in.k1 = 0.01, in.k2 = 0.03, in.gaussian_weights = 1;
  in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_ssim_value_and_grad_f64(&in, &value, NULL, grad) == LOSSFN_OK && close_to(value, 1.0 - (1.0 + s1) / 2));
  CHECK(grad[0] == 0.0 && grad_y[0] == 0.0 && grad[1] < 0.0 && grad_y[1] > 0.0); /* x up, y down: closer */

  /* MS-SSIM of one level of weight 1 is SSIM; five levels (NULL weights) of a one-pixel window
   * fit any image (ceil(1 / 2) = 1) */
  {
    const double one[1] = {1.0};
    double ms = 0, ms_grad[2];
    in.weights = one, in.levels = 1;
    CHECK(lossfn_ms_ssim_value_and_grad_f64(&in, &ms, NULL, ms_grad) == LOSSFN_OK && close_to(ms, value));
    CHECK(close_to(ms_grad[1], grad[1]) && ms_grad[0] == 0.0);
    in.weights = NULL, in.levels = 0;
    CHECK(lossfn_ms_ssim_value_f64(&in, &ms, NULL) == LOSSFN_OK && ms > 0.0 && ms < value);
    in.levels = 3;
    CHECK(value_error(lossfn_ms_ssim_value_f64(&in, &ms, NULL), "weights: needed for 3 levels"));
    in.levels = 0;
  }

  /* errors: a status and a message naming the argument */
  in.win_size = 3;
  CHECK(value_error(lossfn_ssim_value_f64(&in, &value, NULL), "x: the images (1 x 2) are smaller than the 3 x 3 window"));
  in.win_size = 1, in.k2 = 0.0;
  CHECK(value_error(lossfn_ssim_value_f64(&in, &value, NULL), "k2"));
  in.k2 = 0.03, in.y = NULL;
  CHECK(value_error(lossfn_ssim_value_f64(&in, &value, NULL), "y: required"));
  CHECK(value_error(lossfn_ssim_grad_f64(&in, NULL, 1.0, NULL), "grad"));
  CHECK(value_error(lossfn_total_variation_value_f64(NULL, &value, NULL), "in"));
}

/* Perceptual losses over two layers of one image: layer 0 (2 channels of 1 x 2 pixels) with
 * x - y = (1, 0, 0, 1) has mean squared difference 0.5, layer 1 (1 channel of 1 pixel) 4; with
 * weights (1, 0.5) the loss is 0.5 + 2. The Gram matrix of layer 0's x = [[1, 0], [0, 1]] is
 * I / 4, of y = 0 is 0: the style loss of that layer alone is mean((I / 4)^2) = 1 / 32. */
/* Contrastive loss of x1 = (0, 0), x2 = (3, 4) (distance 5), margin 6: a similar pair (y = 1)
 * costs 25 / 2 with gradient u = x1 - x2 = (-3, -4); a dissimilar one (y = 0) (6 - 5)^2 / 2 with
 * gradient -(6 - 5) / 5 u = (0.6, 0.8). hinge_embedding of x = 0.5, y = -1, margin 1: 0.5. */
static void pairs(void) {
  const double x1[4] = {0, 0, 0, 0}, x2[4] = {3, 4, 3, 4}, y[2] = {1, 0}, x[1] = {0.5}, minus[1] = {-1};
  double value = 0, ga[4], gb[4], per[2];
  lossfn_pair_f64 in;
  memset(&in, 0, sizeof in);
  in.samples = 2, in.features = 2, in.a = x1, in.b = x2, in.labels = y, in.margin = 6.0, in.p = 2.0, in.eps = 1e-6;
  in.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_pair_value_and_grad_f64(LOSSFN_CONTRASTIVE, &in, &value, NULL, ga, gb, NULL) == LOSSFN_OK &&
        close_to(value, 13.0));
  CHECK(ga[0] == -3.0 && ga[1] == -4.0 && close_to(ga[2], 0.6) && close_to(ga[3], 0.8) && gb[0] == 3.0);
  in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_pair_value_f64(LOSSFN_CONTRASTIVE, &in, NULL, per) == LOSSFN_OK && per[0] == 12.5 && close_to(per[1], 0.5));
  memset(&in, 0, sizeof in);
  in.samples = 1, in.features = 1, in.a = x, in.labels = minus, in.margin = 1.0, in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_pair_value_f64(LOSSFN_HINGE_EMBEDDING, &in, &value, NULL) == LOSSFN_OK && value == 0.5);
  CHECK(lossfn_pair_grad_f64(LOSSFN_HINGE_EMBEDDING, &in, ga, NULL, NULL, 1.0, NULL) == LOSSFN_OK && ga[0] == -1.0);
  /* errors: a status and a message naming the argument */
  CHECK(value_error(lossfn_pair_grad_f64(LOSSFN_HINGE_EMBEDDING, &in, NULL, NULL, NULL, 1.0, NULL), "grad"));
  in.b = x;
  CHECK(value_error(lossfn_pair_value_f64(LOSSFN_HINGE_EMBEDDING, &in, &value, NULL), "b: this loss takes no such input"));
  in.b = NULL, in.features = 2;
  CHECK(value_error(lossfn_pair_value_f64(LOSSFN_HINGE_EMBEDDING, &in, &value, NULL), "features: one value per sample"));
  in.features = 1, in.p = 2.0, in.labels = NULL;
  CHECK(value_error(lossfn_pair_value_f64(LOSSFN_TRIPLET, &in, &value, NULL), "b: required"));
}

/* Center loss of two samples x = (1, 0), (3, 0) of class 0 with center (2, 0) (and an absent
 * class 1): each 1/2; the centers' gradient -sum (x - c) = 0 for class 0, and Wen et al.'s update
 * leaves the center in place (the samples balance); a third sample (2, 3) moves it up by
 * 0.5 * 3 / (1 + 3). */
static void centers(void) {
  const double x[4] = {1, 0, 3, 0}, x3[6] = {1, 0, 3, 0, 2, 3};
  const int64_t y[2] = {0, 0}, y3[3] = {0, 0, 0}, bad[2] = {0, 2};
  double c[4] = {2, 0, 5, 5}, value = 0, gx[4], gc[4];
  lossfn_center_f64 in;
  memset(&in, 0, sizeof in);
  in.samples = 2, in.features = 2, in.classes = 2, in.x = x, in.labels = y, in.centers = c;
  in.reduction = LOSSFN_REDUCTION_SUM;
  CHECK(lossfn_center_value_and_grad_f64(&in, &value, NULL, gx, gc) == LOSSFN_OK && value == 1.0);
  CHECK(gx[0] == -1.0 && gx[2] == 1.0 && gc[0] == 0.0 && gc[1] == 0.0 && gc[2] == 0.0 && gc[3] == 0.0);
  CHECK(lossfn_center_update_f64(c, &in, 0.5) == LOSSFN_OK && c[0] == 2.0 && c[1] == 0.0 && c[2] == 5.0);
  /* with (2, 3) too: sum (c - x) = (0, -3), c -= 0.5 (0, -3) / (1 + 3) */
  in.samples = 3, in.x = x3, in.labels = y3;
  CHECK(lossfn_center_update_f64(c, &in, 0.5) == LOSSFN_OK && c[0] == 2.0 && close_to(c[1], 0.375) && c[3] == 5.0);
  /* errors: a status and a message naming the argument */
  in.samples = 2, in.x = x, in.labels = bad;
  CHECK(value_error(lossfn_center_value_f64(&in, &value, NULL), "labels: 2 at sample 1 is outside [0, 2)"));
  CHECK(value_error(lossfn_center_grad_f64(&in, NULL, NULL, 1.0, NULL), "grad"));
  CHECK(value_error(lossfn_center_update_f64(c, &in, -1.0), "alpha"));
}

/* cosface: x = (1, 0) of class 0, unit weights (1, 0), (0, 1): cosines 1 and 0, logits s (1 - m)
 * and 0, loss log(1 + e^(-s (1 - m))). info_nce: two samples whose views are the unit axes, logits
 * 1/t on the diagonal and 0 elsewhere: clip log(1 + e^(-1/t)); simclr, each view against its other
 * view (1/t) and two orthogonal ones (0): log(1 + 2 e^(-1/t)). */
static void pairwise(void) {
  const double x[2] = {2, 0}, w[4] = {3, 0, 0, 0.5}, axes[4] = {1, 0, 0, 1};
  const int64_t y[1] = {0}, bad[1] = {2};
  double value = 0, gx[2], gw[4], ga[4], gb[4];
  lossfn_margin_f64 in;
  lossfn_info_nce_f64 nce;
  memset(&in, 0, sizeof in);
  in.samples = 1, in.features = 2, in.classes = 2, in.x = x, in.labels = y, in.weights = w;
  in.s = 30.0, in.m = 0.35, in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_margin_value_and_grad_f64(LOSSFN_COSFACE, &in, &value, NULL, gx, gw) == LOSSFN_OK);
  CHECK(close_to(value, log1p(exp(-30.0 * 0.65))) && gx[0] == 0.0);
  in.s = 64.0, in.m = 0.5;
  CHECK(lossfn_margin_value_and_grad_f64(LOSSFN_ARCFACE, &in, &value, NULL, gx, gw) == LOSSFN_OK);
  CHECK(close_to(value, log1p(exp(-64.0 * cos(0.5)))) && isfinite(gx[1]) && isfinite(gw[1]));
  in.labels = bad;
  CHECK(value_error(lossfn_margin_value_f64(LOSSFN_COSFACE, &in, &value, NULL), "labels: 2 at sample 0 is outside [0, 2)"));
  in.labels = y, in.s = 0.0;
  CHECK(value_error(lossfn_margin_value_f64(LOSSFN_COSFACE, &in, &value, NULL), "s: must be a finite number > 0"));
  CHECK(value_error(lossfn_margin_grad_f64(LOSSFN_COSFACE, &in, NULL, NULL, 1.0, NULL), "grad"));

  memset(&nce, 0, sizeof nce);
  nce.samples = 2, nce.features = 2, nce.a = axes, nce.b = axes;
  nce.temperature = 0.1, nce.symmetric = 1, nce.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_info_nce_value_and_grad_f64(&nce, &value, NULL, ga, gb) == LOSSFN_OK);
  CHECK(close_to(value, log1p(exp(-10.0))));
  nce.simclr = 1;
  CHECK(lossfn_info_nce_value_f64(&nce, &value, NULL) == LOSSFN_OK && close_to(value, log1p(2 * exp(-10.0))));
  nce.temperature = -1.0;
  CHECK(value_error(lossfn_info_nce_value_f64(&nce, &value, NULL), "temperature: must be a finite number > 0"));

  /* batch_triplet, squared distances on a line: anchor 0 at 0 and 1 at 1 (class 0), 2 at 1.2
   * (class 1); margin 0.5 keeps (0, 1, 2): 1 - 1.44 + 0.5 = 0.06 and (1, 0, 2): 1 - 0.04 + 0.5 =
   * 1.46; the mean 0.76. */
  {
    const double line[3] = {0.0, 1.0, 1.2};
    const int64_t classes[3] = {0, 0, 1};
    double g[3];
    lossfn_batch_triplet_f64 bt;
    memset(&bt, 0, sizeof bt);
    bt.samples = 3, bt.features = 1, bt.x = line, bt.labels = classes, bt.margin = 0.5;
    bt.mining = LOSSFN_MINE_ALL, bt.distance = LOSSFN_DISTANCE_SQUARED, bt.reduction = LOSSFN_REDUCTION_MEAN;
    CHECK(lossfn_batch_triplet_value_and_grad_f64(&bt, &value, NULL, g) == LOSSFN_OK && close_to(value, 0.76));
    bt.mining = 7;
    CHECK(value_error(lossfn_batch_triplet_value_f64(&bt, &value, NULL), "in->mining"));
    bt.mining = LOSSFN_MINE_ALL, bt.margin = -1.0;
    CHECK(value_error(lossfn_batch_triplet_value_f64(&bt, &value, NULL), "margin: must be a finite number >= 0"));
  }
}

static void perceptual(void) {
  const double x0[4] = {1, 0, 0, 1}, y0[4] = {0, 0, 0, 0}, x1[1] = {3}, y1[1] = {1}, weights[2] = {1.0, 0.5};
  double value = 0, g0[4], g1[1], per[1];
  double* grads[2] = {g0, g1};
  lossfn_feature_layer_f64 layers[2];
  lossfn_perceptual_f64 in;
  memset(layers, 0, sizeof layers);
  memset(&in, 0, sizeof in);
  layers[0].channels = 2, layers[0].height = 1, layers[0].width = 2, layers[0].x = x0, layers[0].y = y0;
  layers[1].channels = 1, layers[1].height = 1, layers[1].width = 1, layers[1].x = x1, layers[1].y = y1;
  in.batch = 1, in.layers = layers, in.num_layers = 2, in.layer_weights = weights, in.reduction = LOSSFN_REDUCTION_MEAN;
  CHECK(lossfn_perceptual_value_and_grad_f64(&in, &value, NULL, grads) == LOSSFN_OK && close_to(value, 2.5));
  /* d/dx: 2 w (x - y) / (C H W) */
  CHECK(close_to(g0[0], 0.5) && g0[1] == 0.0 && close_to(g1[0], 2.0));
  in.num_layers = 1, in.gram = 1, in.reduction = LOSSFN_REDUCTION_NONE;
  CHECK(lossfn_perceptual_value_f64(&in, NULL, per) == LOSSFN_OK && close_to(per[0], 1.0 / 32));
  /* 4 / (C^2 C H W) (G_x - G_y) F_x = 4 / 16 (I / 4) F_x = F_x / 16 */
  CHECK(lossfn_perceptual_grad_f64(&in, grads, 1.0, NULL) == LOSSFN_OK && close_to(g0[0], 1.0 / 16) && g0[1] == 0.0);
  /* errors: a status and a message naming the argument */
  CHECK(value_error(lossfn_perceptual_grad_f64(&in, NULL, 1.0, NULL), "grads"));
  in.num_layers = 0;
  CHECK(value_error(lossfn_perceptual_value_f64(&in, NULL, per), "features_x: needs at least one layer"));
  in.num_layers = 2;
  layers[1].y = NULL;
  CHECK(value_error(lossfn_perceptual_value_f64(&in, NULL, per), "features_y[1]: required"));
}
