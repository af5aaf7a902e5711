#include "stats.h"

#include <math.h>

#define Z95 1.959963984540054

void stats_wilson95(unsigned long k, unsigned long n, double *lo, double *hi)
{
	double nd = (double)n, p = (double)k / nd, z2 = Z95 * Z95, d = 1 + z2 / nd;
	double centre = (p + z2 / (2.0 * nd)) / d;
	double half = Z95 * sqrt(p * (1 - p) / nd + z2 / (4.0 * nd * nd)) / d;

	*lo = centre - half < 0 ? 0 : centre - half;
	*hi = centre + half > 1 ? 1 : centre + half;
}
