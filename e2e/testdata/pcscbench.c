/*
 * pcscbench: the PC/SC client of the e2e benchmarks (bench_ifd_test.go),
 * plain C on libpcsclite so that the figures are the PC/SC stack's and the
 * card's, not a client runtime's.
 *
 *   pcscbench READER...
 *
 * It connects to each reader (T=1, shared; a reader without a card yet is
 * retried every 100 ms for up to 15 s) and sends it SELECT PIV once (any
 * answer ending 90 00 will do). Then, for every byte k it reads on its
 * standard input:
 *
 *   k < 0x80   one SCardTransmit of GET VERSION (00 FD 00 00) to reader k,
 *              whose answer must end 90 00;
 *   k >= 0x80  one SCardControl of SCARD_CTL_CODE(3400)
 *              (CM_IOCTL_GET_FEATURE_REQUEST) with no input to reader
 *              k & 0x7F, which must succeed with an empty answer;
 *
 * and prints the call's round trip (CLOCK_MONOTONIC) in nanoseconds on a
 * line of its own. It exits 0 at the end of its input, 1 on any failure,
 * with a message on stderr naming the reader and the call. Readers number
 * from 0 in the order given.
 *
 * Build: cc -O2 -Wall -Wextra -Werror pcscbench.c \
 *            $(pkg-config --cflags --libs libpcsclite)
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <reader.h>
#include <winscard.h>

#define MAX_READERS 0x80

static const unsigned char select_piv[] = {0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08};
static const unsigned char get_version[] = {0x00, 0xFD, 0x00, 0x00};

struct reader {
	const char *name;
	SCARDHANDLE card;
};

static int fail_pcsc(const char *reader, const char *call, LONG rv)
{
	fprintf(stderr, "pcscbench: %s on reader \"%s\": %s (0x%08lX)\n", call, reader,
		pcsc_stringify_error(rv), (unsigned long)rv);
	return 1;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* waiting_for_card reports whether rv means that the reader has no usable
 * card yet (the simulator has not inserted it). */
static int waiting_for_card(LONG rv)
{
	return rv == SCARD_E_NO_SMARTCARD || rv == SCARD_W_REMOVED_CARD ||
	       rv == SCARD_W_UNRESPONSIVE_CARD || rv == SCARD_W_UNPOWERED_CARD ||
	       rv == SCARD_E_READER_UNAVAILABLE;
}

static LONG connect_reader(SCARDCONTEXT ctx, struct reader *r)
{
	const struct timespec pause = {0, 100 * 1000 * 1000};
	long long deadline = now_ns() + 15 * 1000000000LL;
	DWORD proto;
	LONG rv;
	for (;;) {
		rv = SCardConnect(ctx, r->name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &r->card, &proto);
		if (rv == SCARD_S_SUCCESS || !waiting_for_card(rv) || now_ns() > deadline)
			return rv;
		nanosleep(&pause, NULL);
	}
}

/* transmit sends cmd to r and checks that the answer ends 90 00; it returns
 * 0, or 1 after saying what failed. */
static int transmit(const struct reader *r, const char *what, const unsigned char *cmd, DWORD len,
		    long long *ns)
{
	unsigned char resp[258];
	DWORD n = sizeof resp;
	long long start = now_ns();
	LONG rv = SCardTransmit(r->card, SCARD_PCI_T1, cmd, len, NULL, resp, &n);
	*ns = now_ns() - start;
	if (rv != SCARD_S_SUCCESS) {
		char call[64];
		snprintf(call, sizeof call, "SCardTransmit(%s)", what);
		return fail_pcsc(r->name, call, rv);
	}
	if (n < 2 || resp[n - 2] != 0x90 || resp[n - 1] != 0x00) {
		fprintf(stderr, "pcscbench: SCardTransmit(%s) on reader \"%s\": answer", what, r->name);
		for (DWORD i = 0; i < n; i++)
			fprintf(stderr, " %02X", resp[i]);
		fprintf(stderr, ", want one ending 90 00\n");
		return 1;
	}
	return 0;
}

static int control(const struct reader *r, long long *ns)
{
	unsigned char resp[256];
	DWORD n = 0;
	long long start = now_ns();
	LONG rv = SCardControl(r->card, SCARD_CTL_CODE(3400), NULL, 0, resp, sizeof resp, &n);
	*ns = now_ns() - start;
	if (rv != SCARD_S_SUCCESS)
		return fail_pcsc(r->name, "SCardControl(CM_IOCTL_GET_FEATURE_REQUEST)", rv);
	if (n != 0) {
		fprintf(stderr,
			"pcscbench: SCardControl(CM_IOCTL_GET_FEATURE_REQUEST) on reader \"%s\": %lu bytes of features, want none\n",
			r->name, (unsigned long)n);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct reader readers[MAX_READERS];
	int n = argc - 1;
	if (n < 1 || n > MAX_READERS) {
		fprintf(stderr, "usage: pcscbench READER... (1 to %d readers)\n", MAX_READERS);
		return 1;
	}
	SCARDCONTEXT ctx;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "pcscbench: SCardEstablishContext: %s (0x%08lX)\n", pcsc_stringify_error(rv),
			(unsigned long)rv);
		return 1;
	}
	long long ns;
	for (int i = 0; i < n; i++) {
		readers[i].name = argv[i + 1];
		if ((rv = connect_reader(ctx, &readers[i])) != SCARD_S_SUCCESS)
			return fail_pcsc(readers[i].name, "SCardConnect", rv);
		if (transmit(&readers[i], "SELECT PIV", select_piv, sizeof select_piv, &ns))
			return 1;
	}
	for (;;) {
		unsigned char k;
		ssize_t got = read(STDIN_FILENO, &k, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "pcscbench: reading standard input: %s\n", strerror(errno));
			return 1;
		}
		if (got == 0)
			break;
		int i = k & 0x7F;
		if (i >= n) {
			fprintf(stderr, "pcscbench: asked for reader %d (byte 0x%02X), but only %d given\n", i, k, n);
			return 1;
		}
		int bad = k < 0x80 ? transmit(&readers[i], "GET VERSION", get_version, sizeof get_version, &ns)
				   : control(&readers[i], &ns);
		if (bad)
			return 1;
		if (printf("%lld\n", ns) < 0 || fflush(stdout) != 0) {
			fprintf(stderr, "pcscbench: writing standard output: %s\n", strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < n; i++)
		SCardDisconnect(readers[i].card, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return 0;
}
