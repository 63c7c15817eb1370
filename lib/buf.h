/*
 * buf: a growable byte buffer with a hard cap.
 *
 * Every buffer grown from outside input has a cap; appending past it fails
 * with CB_ERR_TOO_LARGE and leaves the buffer as it was.  Out of memory
 * aborts: the supervisor restarts the process.  The contents are always NUL
 * terminated so they can be used as a C string.
 */
#ifndef CB_BUF_H
#define CB_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_DEFAULT_MAX	(16u * 1024u * 1024u)

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	 buf_init(struct buf *, size_t max);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_putc(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Append `s` as a JSON string literal, quotes included. */
int	 buf_json_str(struct buf *, const char *s);
int	 buf_json_strn(struct buf *, const char *s, size_t n);
const char *buf_cstr(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);
/* Wipe the contents before freeing: for buffers that held secrets. */
void	 buf_wipe(struct buf *);

#endif
