/* Hex text to bytes, for test vectors and for messages pasted by users. */
#ifndef NATLAB_HEX_H
#define NATLAB_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode hex digits from text into out. White space between bytes is
 * ignored and '#' starts a comment that runs to the end of the line. On
 * failure returns -1 with a message giving the line and column, e.g.
 * "line 3, column 7: 'g' is not a hex digit".
 */
int hex_decode(const char *text, uint8_t *out, size_t cap, size_t *len, char *err, size_t err_len);

#endif
