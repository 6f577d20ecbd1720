/*
 * bench.h - timing and the one-line result format shared by benchmarks:
 *   bench <lib>.<name>: <value> <unit> | baseline <value> <unit> | ratio <r> | target <t>
 */
#ifndef BT_BENCH_H
#define BT_BENCH_H

#include <stdio.h>
#include <time.h>

static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Print one figure.  @p target is text such as ">= 0.85" or NULL for "-".
 * The ratio is value / baseline.
 */
static inline void
bench_line(const char *lib, const char *name, double value, const char *unit,
    double baseline, const char *base_unit, const char *target)
{
	printf("bench %s.%s: %.4g %s | baseline %.4g %s | ratio %.3f | target %s\n",
	    lib, name, value, unit, baseline, base_unit,
	    baseline > 0 ? value / baseline : 0.0, target ? target : "-");
	fflush(stdout);
}

/* Keep the compiler from discarding a computed value. */
static inline void
bench_consume(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

#endif /* BT_BENCH_H */
