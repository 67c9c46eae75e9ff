/* C ABI: known values, and every error coming back as a status with a message. */
#include <math.h>
#include <stdio.h>
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

int main(void) {
  const double pred[3] = {1.0, 2.0, 3.0}, target[3] = {1.0, 1.0, 1.0};
  double value = 0, grad[3], hess[3], loss[3];
  const double delta2[1] = {2.0}, bad_delta[1] = {-1.0};

  CHECK(strlen(lossfn_version()) > 0);
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
  CHECK(lossfn_set_isa("sse9") == LOSSFN_ERROR_VALUE && strstr(lossfn_last_error(), "isa") != NULL);
  CHECK(lossfn_set_isa("baseline") == LOSSFN_OK && strcmp(lossfn_isa(), "baseline") == 0);
  CHECK(lossfn_mse_value_f64(&value, NULL, pred, target, NULL, NULL, 3, NULL, LOSSFN_REDUCTION_MEAN) == LOSSFN_OK);
  CHECK(close_to(value, 5.0 / 3) && lossfn_last_error()[0] == '\0');

  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("C ABI: all checks passed\n");
  return failures ? 1 : 0;
}
