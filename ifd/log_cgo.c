//go:build cgo

/* log_msg for the Go tests of the driver, which link ifdhandler.c without
 * pcscd (pcscd provides the real one); not part of the built driver. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <debuglog.h>

void log_msg(const int priority, const char *fmt, ...)
{
	va_list ap;
	if (getenv("TESSERA_IFD_LOG") == NULL)
		return;
	fprintf(stderr, "ifd[%d]: ", priority);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
