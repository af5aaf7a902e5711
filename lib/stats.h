/*
 * Counting helpers shared by natprobe (a technique's trials) and natreport
 * (trials pooled over many records): one formula, one place.
 */
#ifndef NATLAB_STATS_H
#define NATLAB_STATS_H

/* Wilson's score interval, 95%, for k successes in n trials (n > 0): better
 * than the normal one for the small n and the rates near 0 and 1 that
 * traversal trials give. */
void stats_wilson95(unsigned long k, unsigned long n, double *lo, double *hi);

#endif
