/* A small model-training flow: make a data set, fit a linear model for several learning
 * rates in parallel, keep the best one.
 *   mflow run examples/train.c --epochs=200 */
#include <mflow/flow.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 256

static void start(mf_task *t)
{
    /* y = 3x - 1 plus deterministic noise. */
    double x[N], y[N];
    unsigned s = 42;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (double)i / N;
        y[i] = 3.0 * x[i] - 1.0 + ((double)(s >> 16 & 0x7fff) / 32768.0 - 0.5) * 0.1;
    }
    mf_set_bytes(t, "x", x, sizeof x);
    mf_set_bytes(t, "y", y, sizeof y);
    const double rates[] = {0.01, 0.1, 0.5, 1.0};
    mf_set_f64v(t, "rates", rates, 4);
}

static void fit(mf_task *t)
{
    size_t len;
    const double *x = mf_get_bytes(t, "x", &len);
    const double *y = mf_get_bytes(t, "y", &len);
    double lr = mf_item_f64(t), w = 0, b = 0;
    int64_t epochs = mf_get_i64(t, "epochs");
    for (int64_t e = 0; e < epochs; e++) {
        double gw = 0, gb = 0;
        for (int i = 0; i < N; i++) {
            double err = w * x[i] + b - y[i];
            gw += err * x[i];
            gb += err;
        }
        w -= lr * gw / N;
        b -= lr * gb / N;
    }
    double mse = 0;
    for (int i = 0; i < N; i++)
        mse += pow(w * x[i] + b - y[i], 2) / N;
    printf("lr %.2f: w=%.3f b=%.3f mse=%.5f\n", lr, w, b, mse);
    mf_set_f64(t, "w", w);
    mf_set_f64(t, "b", b);
    mf_set_f64(t, "mse", mse);
    mf_set_f64(t, "lr", lr);
}

static void pick(mf_task *t)
{
    size_t best = 0;
    for (size_t i = 1; i < mf_input_count(t); i++)
        if (mf_input_f64(t, i, "mse") < mf_input_f64(t, best, "mse"))
            best = i;
    mf_set_f64(t, "w", mf_input_f64(t, best, "w"));
    mf_set_f64(t, "b", mf_input_f64(t, best, "b"));
    mf_set_f64(t, "mse", mf_input_f64(t, best, "mse"));
    mf_set_f64(t, "best_lr", mf_input_f64(t, best, "lr"));
}

static void end(mf_task *t)
{
    printf("best: lr %.2f, y = %.3f x %+.3f (mse %.5f)\n", mf_get_f64(t, "best_lr"),
           mf_get_f64(t, "w"), mf_get_f64(t, "b"), mf_get_f64(t, "mse"));
}

static const mf_step_def steps[] = {
    {.name = "start", .fn = start, .next = "fit", .foreach = "rates"},
    {.name = "fit", .fn = fit, .next = "pick", .resources = {.cpu = 1, .memory_mb = 256}},
    {.name = "pick", .fn = pick, .next = "end", .join = 1},
    {.name = "end", .fn = end},
};

static const mf_param_def params[] = {
    {.name = "epochs", .type = MF_I64, .default_value = "300", .help = "gradient steps per model"},
};

MF_FLOW("TrainFlow", steps, params);
