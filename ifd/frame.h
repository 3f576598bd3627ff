/*
 * The Tessera IFD link's framing: what the pcsc-lite driver
 * (ifd/ifdhandler.c) and `tessera sim --bridge ifd`
 * (simulator/ifdlink) say to each other over one unix socket per card.
 *
 * Every message, both ways: a 4-byte big-endian length L, then L bytes: a
 * 1-byte type and L-1 bytes of payload (1 <= L <= 1 + TIF_MAX_PAYLOAD).
 * The driver asks, the simulator answers once; the simulator never speaks
 * first. docs/ifd-bridge.md has the table.
 */
#ifndef TESSERA_IFD_FRAME_H
#define TESSERA_IFD_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Header: the length and the type. */
#define TIF_HEADER 5
/* The longest payload: pcsc-lite's MAX_BUFFER_SIZE_EXTENDED (an extended
 * APDU with its header, Lc, Le and status word). */
#define TIF_MAX_PAYLOAD 65548
/* The longest ATR (ISO/IEC 7816-3), pcsc-lite's MAX_ATR_SIZE. */
#define TIF_MAX_ATR 33

/* Requests (driver to simulator). */
#define TIF_APDU 0x01      /* payload: a command APDU (at least 4 bytes) */
#define TIF_POWER_ON 0x02  /* no payload */
#define TIF_POWER_OFF 0x03 /* no payload */
#define TIF_RESET 0x04     /* no payload: warm reset */
#define TIF_PRESENCE 0x05  /* no payload */

/* Answers (simulator to driver): the request's type with bit 8 set, or
 * TIF_NO_CARD. */
#define TIF_ANSWER 0x80
/* APDU answer: the response APDU (at least the 2-byte status word).
 * POWER_ON and RESET answer: the ATR (1 to 33 bytes).
 * POWER_OFF answer: no payload.
 * PRESENCE answer: the ATR when a card is present, no payload when not. */
#define TIF_NO_CARD 0xFE /* no payload: no card (removed, mute, leaving) */

/* Results; negative values are errors. */
#define TIF_OK 0
#define TIF_SHORT (-1)      /* the buffer ends inside the frame */
#define TIF_BAD_LENGTH (-2) /* length 0, or past 1 + TIF_MAX_PAYLOAD */
#define TIF_BAD_TYPE (-3)   /* not an answer to this request */
#define TIF_BAD_PAYLOAD (-4) /* a payload this answer cannot have */

/* tif_header parses the 5-byte header hdr: the type and the payload's
 * length. It returns TIF_OK or TIF_BAD_LENGTH, and never reads past hdr[4]. */
int tif_header(const uint8_t *hdr, uint8_t *type, uint32_t *paylen);

/* tif_check_answer checks that an answer of type type with n bytes of
 * payload p fits request req: TIF_OK, TIF_BAD_TYPE or TIF_BAD_PAYLOAD. */
int tif_check_answer(uint8_t req, uint8_t type, const uint8_t *p, uint32_t n);

/* tif_decode decodes the answer to req at the start of buf (len bytes).
 * On success it returns the frame's size and sets *type, *payload (pointing
 * into buf) and *paylen; otherwise a negative TIF_ result. It reads nothing
 * outside buf[0:len]. */
long tif_decode(uint8_t req, const uint8_t *buf, size_t len, uint8_t *type,
		const uint8_t **payload, uint32_t *paylen);

/* tif_put_header writes the header of a frame of type with paylen bytes of
 * payload to hdr (5 bytes). paylen must be at most TIF_MAX_PAYLOAD. */
void tif_put_header(uint8_t *hdr, uint8_t type, uint32_t paylen);

#endif
