//go:build cgo

/*
 * Tessera's pcsc-lite reader driver (IFD handler, API v3, ifdhandler.h):
 * each reader.conf entry is one simulated card, its DEVICENAME the unix
 * socket on which `tessera sim --bridge ifd` serves that card. Every call
 * is one exchange on the socket in the framing of ../frame.h.
 *
 * A card that cannot be reached (no simulator, a dead socket, a malformed
 * or late answer) is no card: the connection is closed, IFDHICCPresence
 * reports IFD_ICC_NOT_PRESENT, and the next presence poll connects again.
 * Every read and write has a deadline, so pcscd never waits for a simulator
 * that stopped answering; SIGPIPE is never raised (MSG_NOSIGNAL).
 *
 * pcscd loads one copy of the library for every reader using it and
 * identifies the reader by its Lun, so the driver keeps a table of channels
 * keyed by Lun: the only state shared between readers, guarded by a mutex.
 * Each channel has its own mutex; readers work in parallel
 * (TAG_IFD_THREAD_SAFE).
 *
 * C, not Go -buildmode=c-shared: see docs/ifd-bridge.md.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ifdhandler.h>
#include <debuglog.h>
#include <reader.h>

#include "frame.h"

/* As many readers as pcscd has (PCSCLITE_MAX_READERS_CONTEXTS). */
#define MAX_CHANNELS 16

/* Deadlines, in milliseconds. A command may take long on a card (RSA key
 * generation, a touch the profile waits for); presence and power do not. */
#define CONNECT_MS 1000
#define CONTROL_MS 3000
#define APDU_MS 60000

struct channel {
	int used;
	DWORD lun;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_mutex_t mu;
	int fd; /* -1: not connected */
	/* lost: a connection ended since the last presence poll, which then
	 * reports the card gone once, so that pcscd sees every removal even
	 * when the simulator is back before its next poll. */
	int lost;
	UCHAR atr[TIF_MAX_ATR];
	DWORD atrlen; /* 0: no card, or not known yet */
	uint8_t *buf; /* TIF_HEADER + TIF_MAX_PAYLOAD bytes */
};

/* pcscd's readers, by Lun: the driver's one piece of shared state (the
 * IFD handler API names readers by Lun alone). */
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static struct channel channels[MAX_CHANNELS];

static struct channel *find(DWORD lun)
{
	struct channel *c = NULL;
	int i;

	pthread_mutex_lock(&table_mu);
	for (i = 0; i < MAX_CHANNELS; i++)
		if (channels[i].used && channels[i].lun == lun) {
			c = &channels[i];
			break;
		}
	pthread_mutex_unlock(&table_mu);
	return c;
}

/* now_ms is the monotonic clock in milliseconds, in 64 bits: a 32-bit
 * long would overflow after 24.8 days of uptime on a 32-bit pcscd. */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd waits until fd is ready for events, or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	for (;;) {
		int64_t left = deadline - now_ms();
		int n;
		if (left <= 0)
			return -1;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return (p.revents & (events | POLLHUP | POLLERR)) ? 0 : -1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static void hang_up(struct channel *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		c->lost = 1;
	}
	c->atrlen = 0;
}

static int dial(struct channel *c)
{
	struct sockaddr_un sa;
	int fd;

	if (c->fd >= 0)
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, sizeof sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
	    (errno != EINPROGRESS && errno != EAGAIN)) {
		close(fd);
		return -1;
	}
	if (wait_fd(fd, POLLOUT, now_ms() + CONNECT_MS) < 0) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	Log2(PCSC_LOG_INFO, "tessera: connected to %s", c->path);
	return 0;
}

static int write_all(int fd, struct iovec *iov, int n, int64_t deadline)
{
	while (n > 0) {
		struct msghdr m;
		ssize_t w;
		memset(&m, 0, sizeof m);
		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		w = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return -1; /* the simulator hung up */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return -1;
	}
	return 0;
}

/*
 * exchange sends request req with n bytes of payload p and reads the
 * answer into c->buf. It returns 1 and sets *payload and *paylen for an
 * answer to req, 0 for TIF_NO_CARD, and -1 when the link failed (then it
 * is closed: no card until the next presence poll reaches the simulator).
 * Called with c->mu held.
 */
static int exchange(struct channel *c, uint8_t req, const uint8_t *p, DWORD n,
		    int ms, const uint8_t **payload, uint32_t *paylen)
{
	uint8_t hdr[TIF_HEADER];
	struct iovec iov[2];
	int64_t deadline = now_ms() + ms;
	uint8_t type;
	uint32_t len;

	if (n > TIF_MAX_PAYLOAD)
		return -1;
	if (dial(c) < 0)
		return -1;
	tif_put_header(hdr, req, (uint32_t)n);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = n;
	if (write_all(c->fd, iov, n > 0 ? 2 : 1, deadline) < 0)
		goto fail;
	if (read_full(c->fd, c->buf, TIF_HEADER, deadline) < 0)
		goto fail;
	if (tif_header(c->buf, &type, &len) != TIF_OK)
		goto bad;
	if (read_full(c->fd, c->buf + TIF_HEADER, len, deadline) < 0)
		goto fail;
	if (tif_check_answer(req, type, c->buf + TIF_HEADER, len) != TIF_OK)
		goto bad;
	if (type == TIF_NO_CARD)
		return 0;
	*payload = c->buf + TIF_HEADER;
	*paylen = len;
	return 1;
bad:
	Log3(PCSC_LOG_ERROR, "tessera: %s: malformed answer to request %d; hanging up", c->path, req);
fail:
	hang_up(c);
	return -1;
}

RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	struct channel *c = NULL;
	size_t n;
	int i;

	if (DeviceName == NULL)
		return IFD_COMMUNICATION_ERROR;
	/* pcscd checks, when it reads reader.conf, that the part of DEVICENAME
	 * before a colon exists; the card's socket may not exist yet, so
	 * reader.conf says /dev/null:SOCKET, as for vpcd. */
	if (strchr(DeviceName, ':') != NULL)
		DeviceName = strchr(DeviceName, ':') + 1;
	n = strlen(DeviceName);
	if (n == 0 || n >= sizeof c->path) {
		/* scripts/ifd.sh install and uninstall know the driver by this
		 * message's text (LIB_MARK there): change both together. */
		Log2(PCSC_LOG_CRITICAL, "tessera: DEVICENAME must be a unix socket path shorter than %d bytes", (int)sizeof c->path);
		return IFD_COMMUNICATION_ERROR;
	}
	pthread_mutex_lock(&table_mu);
	for (i = 0; i < MAX_CHANNELS; i++)
		if (channels[i].used && channels[i].lun == Lun) {
			pthread_mutex_unlock(&table_mu);
			return IFD_COMMUNICATION_ERROR;
		}
	for (i = 0; i < MAX_CHANNELS && c == NULL; i++)
		if (!channels[i].used)
			c = &channels[i];
	if (c == NULL) {
		pthread_mutex_unlock(&table_mu);
		Log2(PCSC_LOG_CRITICAL, "tessera: more than %d readers", MAX_CHANNELS);
		return IFD_COMMUNICATION_ERROR;
	}
	c->buf = malloc(TIF_HEADER + TIF_MAX_PAYLOAD);
	if (c->buf == NULL) {
		pthread_mutex_unlock(&table_mu);
		return IFD_COMMUNICATION_ERROR;
	}
	memset(c->path, 0, sizeof c->path);
	memcpy(c->path, DeviceName, n);
	pthread_mutex_init(&c->mu, NULL);
	c->fd = -1;
	c->lost = 0;
	c->atrlen = 0;
	c->lun = Lun;
	c->used = 1;
	pthread_mutex_unlock(&table_mu);
	/* No connection yet: the simulator may start later. */
	Log3(PCSC_LOG_INFO, "tessera: reader Lun 0x%lX on %s", (unsigned long)Lun, c->path);
	return IFD_SUCCESS;
}

RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
	(void)Lun;
	Log2(PCSC_LOG_CRITICAL, "tessera: channel %lu: DEVICENAME must name the card's unix socket", (unsigned long)Channel);
	return IFD_NOT_SUPPORTED;
}

RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
	struct channel *c = find(Lun);

	if (c == NULL)
		return IFD_NO_SUCH_DEVICE;
	pthread_mutex_lock(&c->mu);
	hang_up(c);
	free(c->buf);
	c->buf = NULL;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_lock(&table_mu);
	c->used = 0;
	pthread_mutex_unlock(&table_mu);
	return IFD_SUCCESS;
}

static RESPONSECODE put(PDWORD Length, PUCHAR Value, const void *v, DWORD n)
{
	if (*Length < n)
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	memcpy(Value, v, n);
	*Length = n;
	return IFD_SUCCESS;
}

RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	struct channel *c = find(Lun);
	RESPONSECODE rv;
	UCHAR one = 1, max = MAX_CHANNELS;
	static const char vendor[] = "Tessera";

	if (c == NULL)
		return IFD_NO_SUCH_DEVICE;
	switch (Tag) {
	case TAG_IFD_ATR:
	case SCARD_ATTR_ATR_STRING:
		pthread_mutex_lock(&c->mu);
		rv = put(Length, Value, c->atr, c->atrlen);
		pthread_mutex_unlock(&c->mu);
		return rv;
	case TAG_IFD_SLOTS_NUMBER:
	case TAG_IFD_THREAD_SAFE:
		return put(Length, Value, &one, 1);
	case TAG_IFD_SIMULTANEOUS_ACCESS:
		return put(Length, Value, &max, 1);
	case TAG_IFD_SLOT_THREAD_SAFE:
		one = 0;
		return put(Length, Value, &one, 1);
	case SCARD_ATTR_VENDOR_NAME:
		return put(Length, Value, vendor, sizeof vendor);
	}
	return IFD_ERROR_TAG;
}

RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
	(void)Lun;
	(void)Tag;
	(void)Length;
	(void)Value;
	return IFD_NOT_SUPPORTED;
}

RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags,
				       UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{
	(void)Flags;
	(void)PTS1;
	(void)PTS2;
	(void)PTS3;
	if (find(Lun) == NULL)
		return IFD_NO_SUCH_DEVICE;
	/* The card's bytes go through as they are: T=0 or T=1 alike. */
	if (Protocol != SCARD_PROTOCOL_T0 && Protocol != SCARD_PROTOCOL_T1)
		return IFD_PROTOCOL_NOT_SUPPORTED;
	return IFD_SUCCESS;
}

RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	struct channel *c = find(Lun);
	const uint8_t *p = NULL;
	uint32_t n = 0;
	uint8_t req;
	int rc;

	if (c == NULL)
		return IFD_NO_SUCH_DEVICE;
	switch (Action) {
	case IFD_POWER_UP:
		req = TIF_POWER_ON;
		break;
	case IFD_RESET:
		req = TIF_RESET;
		break;
	case IFD_POWER_DOWN:
		req = TIF_POWER_OFF;
		break;
	default:
		return IFD_NOT_SUPPORTED;
	}
	pthread_mutex_lock(&c->mu);
	rc = exchange(c, req, NULL, 0, CONTROL_MS, &p, &n);
	if (req == TIF_POWER_OFF) {
		pthread_mutex_unlock(&c->mu);
		if (AtrLength != NULL)
			*AtrLength = 0;
		/* A card that is gone is powered down too. */
		return IFD_SUCCESS;
	}
	if (rc <= 0 || AtrLength == NULL || *AtrLength < n) {
		c->atrlen = 0;
		pthread_mutex_unlock(&c->mu);
		if (AtrLength != NULL)
			*AtrLength = 0;
		return IFD_ERROR_POWER_ACTION;
	}
	memcpy(c->atr, p, n);
	c->atrlen = n;
	memcpy(Atr, p, n);
	*AtrLength = n;
	pthread_mutex_unlock(&c->mu);
	return IFD_SUCCESS;
}

RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer,
			       DWORD TxLength, PUCHAR RxBuffer, PDWORD RxLength,
			       PSCARD_IO_HEADER RecvPci)
{
	struct channel *c = find(Lun);
	const uint8_t *p = NULL;
	uint32_t n = 0;
	int rc;

	if (c == NULL) {
		*RxLength = 0;
		return IFD_NO_SUCH_DEVICE;
	}
	if (TxLength < 4 || TxLength > TIF_MAX_PAYLOAD) {
		*RxLength = 0;
		return IFD_COMMUNICATION_ERROR;
	}
	pthread_mutex_lock(&c->mu);
	rc = exchange(c, TIF_APDU, TxBuffer, TxLength, APDU_MS, &p, &n);
	if (rc <= 0) {
		pthread_mutex_unlock(&c->mu);
		*RxLength = 0;
		return rc == 0 ? IFD_ICC_NOT_PRESENT : IFD_COMMUNICATION_ERROR;
	}
	if (n > *RxLength) {
		pthread_mutex_unlock(&c->mu);
		*RxLength = 0;
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	}
	memcpy(RxBuffer, p, n);
	*RxLength = n;
	pthread_mutex_unlock(&c->mu);
	if (RecvPci != NULL)
		RecvPci->Protocol = SendPci.Protocol;
	return IFD_SUCCESS;
}

RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	struct channel *c = find(Lun);
	const uint8_t *p = NULL;
	uint32_t n = 0;
	int rc;

	if (c == NULL)
		return IFD_NO_SUCH_DEVICE;
	pthread_mutex_lock(&c->mu);
	if (c->lost) {
		c->lost = 0;
		c->atrlen = 0;
		pthread_mutex_unlock(&c->mu);
		return IFD_ICC_NOT_PRESENT;
	}
	rc = exchange(c, TIF_PRESENCE, NULL, 0, CONTROL_MS, &p, &n);
	if (rc <= 0 || n == 0) {
		c->lost = 0; /* this answer reports it */
		c->atrlen = 0;
		pthread_mutex_unlock(&c->mu);
		return IFD_ICC_NOT_PRESENT;
	}
	pthread_mutex_unlock(&c->mu);
	return IFD_ICC_PRESENT;
}

RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer, DWORD TxLength,
			 PUCHAR RxBuffer, DWORD RxLength, LPDWORD pdwBytesReturned)
{
	(void)Lun;
	(void)TxBuffer;
	(void)TxLength;
	(void)RxBuffer;
	(void)RxLength;
	if (pdwBytesReturned != NULL)
		*pdwBytesReturned = 0;
	/* No reader features (PIN pad, ...): an empty feature list. */
	if (dwControlCode == CM_IOCTL_GET_FEATURE_REQUEST)
		return IFD_SUCCESS;
	return IFD_ERROR_NOT_SUPPORTED;
}
