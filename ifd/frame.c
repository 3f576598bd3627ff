//go:build cgo

/* The Tessera IFD link's framing (frame.h): parsing that never trusts the
 * simulator's bytes. Pure C99, no I/O, no allocation. */
#include "frame.h"

int tif_header(const uint8_t *hdr, uint8_t *type, uint32_t *paylen)
{
	uint32_t l = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		     (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
	if (l < 1 || l > 1 + (uint32_t)TIF_MAX_PAYLOAD)
		return TIF_BAD_LENGTH;
	*type = hdr[4];
	*paylen = l - 1;
	return TIF_OK;
}

int tif_check_answer(uint8_t req, uint8_t type, const uint8_t *p, uint32_t n)
{
	(void)p;
	if (type == TIF_NO_CARD)
		return n == 0 ? TIF_OK : TIF_BAD_PAYLOAD;
	if (type != (uint8_t)(req | TIF_ANSWER))
		return TIF_BAD_TYPE;
	switch (req) {
	case TIF_APDU:
		return n >= 2 ? TIF_OK : TIF_BAD_PAYLOAD;
	case TIF_POWER_ON:
	case TIF_RESET:
		return n >= 1 && n <= TIF_MAX_ATR ? TIF_OK : TIF_BAD_PAYLOAD;
	case TIF_POWER_OFF:
		return n == 0 ? TIF_OK : TIF_BAD_PAYLOAD;
	case TIF_PRESENCE:
		return n <= TIF_MAX_ATR ? TIF_OK : TIF_BAD_PAYLOAD;
	}
	return TIF_BAD_TYPE;
}

long tif_decode(uint8_t req, const uint8_t *buf, size_t len, uint8_t *type,
		const uint8_t **payload, uint32_t *paylen)
{
	uint8_t t;
	uint32_t n;
	int rc;

	if (len < TIF_HEADER)
		return TIF_SHORT;
	rc = tif_header(buf, &t, &n);
	if (rc != TIF_OK)
		return rc;
	if (len - TIF_HEADER < n)
		return TIF_SHORT;
	rc = tif_check_answer(req, t, buf + TIF_HEADER, n);
	if (rc != TIF_OK)
		return rc;
	*type = t;
	*payload = buf + TIF_HEADER;
	*paylen = n;
	return (long)(TIF_HEADER + n);
}

void tif_put_header(uint8_t *hdr, uint8_t type, uint32_t paylen)
{
	uint32_t l = paylen + 1;
	hdr[0] = (uint8_t)(l >> 24);
	hdr[1] = (uint8_t)(l >> 16);
	hdr[2] = (uint8_t)(l >> 8);
	hdr[3] = (uint8_t)l;
	hdr[4] = type;
}
