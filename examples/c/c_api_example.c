/* The C ABI from plain C: a loss, its gradient and Hessian, a row loss (softmax cross-entropy),
 * and an error reported as a status. */
#include <math.h>
#include <stdio.h>

#include <lossfn/lossfn.h>

#define N 1000

int main(void) {
  static float p[N], t[N], g[N], h[N];
  static int64_t labels[N / 4];
  lossfn_rows_f32 rows = {0};
  double value = 0.0;
  const double delta[1] = {-1.0};
  for (int i = 0; i < N; ++i) p[i] = (float)sin(0.1 * i), t[i] = (float)(i % 2);

  printf("lossfn %s, isa %s, %d threads\n", lossfn_version(), lossfn_isa(), lossfn_get_num_threads());
  if (lossfn_huber_value_f32(&value, NULL, p, t, NULL, NULL, N, NULL, LOSSFN_REDUCTION_MEAN) != LOSSFN_OK) return 1;
  printf("check huber %.9g\n", value);
  if (lossfn_bce_with_logits_value_and_grad_f32(&value, NULL, g, NULL, p, t, NULL, NULL, N, NULL,
                                                LOSSFN_REDUCTION_MEAN) != LOSSFN_OK) return 1;
  printf("check bce_with_logits %.9g\n", value);
  printf("check bce_with_logits_grad3 %.9g\n", (double)g[3]);
  if (lossfn_log_cosh_value_f32(&value, NULL, p, t, NULL, NULL, N, NULL, LOSSFN_REDUCTION_SUM) != LOSSFN_OK) return 1;
  printf("check log_cosh_sum %.9g\n", value);
  if (lossfn_sigmoid_focal_hess_f32(h, p, t, NULL, NULL, N, NULL, LOSSFN_REDUCTION_SUM) != LOSSFN_OK) return 1;
  /* a row loss: the same numbers as (N/4, 4) class scores, labels row % 4 */
  for (int r = 0; r < N / 4; ++r) labels[r] = r % 4;
  rows.outer = N / 4, rows.classes = 4, rows.inner = 1;
  rows.logits = p, rows.labels = labels, rows.reduction = LOSSFN_REDUCTION_MEAN;
  if (lossfn_softmax_cross_entropy_value_and_grad_f32(&rows, &value, NULL, g) != LOSSFN_OK) return 1;
  printf("check softmax_cross_entropy %.9g\n", value);
  printf("check softmax_cross_entropy_grad5 %.9g\n", (double)g[5]);
  /* a bad hyper-parameter comes back as a status and a message */
  if (lossfn_huber_value_f32(&value, NULL, p, t, NULL, NULL, N, delta, LOSSFN_REDUCTION_MEAN) != LOSSFN_ERROR_VALUE) return 1;
  printf("error as expected: %s\n", lossfn_last_error());
  return 0;
}
