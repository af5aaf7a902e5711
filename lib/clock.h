/*
 * The one clock natlab's probes measure with: monotonic, in microseconds
 * (never stepped by NTP or by hand, so no interval comes out negative).
 */
#ifndef NATLAB_CLOCK_H
#define NATLAB_CLOCK_H

#include <stdint.h>

uint64_t clock_now_us(void);

#endif
