// libpng for Swift, plus C helpers that decode an in-memory PNG and encode one to memory with setjmp/longjmp kept
// inside C, so that a libpng error becomes a return code and a message (Swift cannot use setjmp safely).
// The decoder applies no colour transformations: it hands back the stored samples (1/2/4-bit unpacked to one byte,
// 16-bit as big-endian pairs, palette indices as indices) so that the Swift side can reproduce Pillow's modes exactly.
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/// What the IHDR, PLTE and tRNS chunks say.
typedef struct {
    unsigned int width;
    unsigned int height;
    int bit_depth;
    int color_type;
    int interlace;
    int num_palette;
    unsigned char palette[256 * 3];
    int num_trans;
} sam_png_info;

typedef struct {
    jmp_buf jump;
    char *message; /* at least 256 bytes */
} sam_png_error_ctx;

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t pos;
} sam_png_reader;

typedef struct {
    unsigned char *data;
    size_t size;
    size_t capacity;
    int failed;
} sam_png_writer;

static void sam_png_error_fn(png_structp png, png_const_charp msg) {
    sam_png_error_ctx *ctx = (sam_png_error_ctx *)png_get_error_ptr(png);
    strncpy(ctx->message, msg ? msg : "unknown libpng error", 255);
    ctx->message[255] = 0;
    longjmp(ctx->jump, 1);
}

static void sam_png_warning_fn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void sam_png_read_fn(png_structp png, png_bytep out, size_t length) {
    sam_png_reader *r = (sam_png_reader *)png_get_io_ptr(png);
    if (r->size - r->pos < length) {
        png_error(png, "unexpected end of file (truncated PNG)");
    }
    memcpy(out, r->data + r->pos, length);
    r->pos += length;
}

/// Decodes `data[0..<size]`. With `out == NULL` only the chunks before the image data are read into `info`.
/// Otherwise the rows are written to `out`, which must hold exactly height * width * channels * (bit_depth == 16 ? 2
/// : 1) bytes (`out_size`), 1/2/4-bit samples unpacked to one byte each (unscaled); `max_pixels` bounds
/// width * height before the image data is touched. The trailing chunks (after the image data) are not read,
/// as Pillow does not require them. Returns 0 on success, 1 on a libpng error (text in `message`, 256 bytes),
/// 2 when the output buffer size does not match, 3 when the image exceeds `max_pixels`.
static inline int sam_png_decode(const unsigned char *data, size_t size, sam_png_info *info, unsigned char *out,
                                 size_t out_size, long long max_pixels, char *message) {
    sam_png_error_ctx ctx;
    sam_png_reader reader;
    png_structp volatile png = NULL;
    png_infop volatile pinfo = NULL;
    png_bytep *volatile rows = NULL;
    volatile int status = 0;

    message[0] = 0;
    ctx.message = message;
    reader.data = data;
    reader.size = size;
    reader.pos = 0;
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, sam_png_error_fn, sam_png_warning_fn);
    if (!png) {
        strcpy(message, "png_create_read_struct failed");
        return 1;
    }
    if (setjmp(ctx.jump)) {
        png_structp p = png;
        png_infop i = pinfo;
        free(rows);
        png_destroy_read_struct(&p, i ? &i : NULL, NULL);
        return 1;
    }
    pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_error(png, "png_create_info_struct failed");
    }
    png_set_benign_errors(png, 1);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_read_fn(png, &reader, sam_png_read_fn);
    png_read_info(png, pinfo);

    info->width = png_get_image_width(png, pinfo);
    info->height = png_get_image_height(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    info->color_type = png_get_color_type(png, pinfo);
    info->interlace = png_get_interlace_type(png, pinfo);
    info->num_palette = 0;
    info->num_trans = 0;
    {
        png_colorp pal = NULL;
        int n = 0;
        if (png_get_PLTE(png, pinfo, &pal, &n) & PNG_INFO_PLTE) {
            int k;
            if (n > 256) n = 256;
            for (k = 0; k < n; k++) {
                info->palette[3 * k + 0] = pal[k].red;
                info->palette[3 * k + 1] = pal[k].green;
                info->palette[3 * k + 2] = pal[k].blue;
            }
            info->num_palette = n;
        }
    }
    {
        png_bytep trans = NULL;
        int nt = 0;
        png_color_16p tc = NULL;
        if (png_get_tRNS(png, pinfo, &trans, &nt, &tc) & PNG_INFO_tRNS) {
            info->num_trans = nt;
        }
    }

    if (out != NULL) {
        size_t channels, sample_bytes, stride, y;
        if ((long long)info->width * (long long)info->height > max_pixels) {
            status = 3;
        } else {
            if (info->bit_depth < 8) {
                png_set_packing(png);
            }
            png_set_interlace_handling(png);
            png_read_update_info(png, pinfo);
            channels = png_get_channels(png, pinfo);
            sample_bytes = info->bit_depth == 16 ? 2 : 1;
            stride = (size_t)info->width * channels * sample_bytes;
            if (png_get_rowbytes(png, pinfo) != stride || stride * info->height != out_size) {
                status = 2;
            } else {
                rows = (png_bytep *)malloc(sizeof(png_bytep) * (info->height ? info->height : 1));
                if (!rows) {
                    png_error(png, "out of memory for row pointers");
                }
                for (y = 0; y < info->height; y++) {
                    rows[y] = out + y * stride;
                }
                png_read_image(png, rows);
            }
        }
    }
    {
        png_structp p = png;
        png_infop i = pinfo;
        free(rows);
        png_destroy_read_struct(&p, &i, NULL);
    }
    return status;
}

static void sam_png_write_fn(png_structp png, png_bytep in, size_t length) {
    sam_png_writer *w = (sam_png_writer *)png_get_io_ptr(png);
    if (w->size + length > w->capacity) {
        size_t cap = w->capacity ? w->capacity : 4096;
        unsigned char *grown;
        while (cap < w->size + length) cap *= 2;
        grown = (unsigned char *)realloc(w->data, cap);
        if (!grown) {
            w->failed = 1;
            png_error(png, "out of memory while encoding PNG");
        }
        w->data = grown;
        w->capacity = cap;
    }
    memcpy(w->data + w->size, in, length);
    w->size += length;
}

static void sam_png_flush_fn(png_structp png) { (void)png; }

/// Encodes an 8-bit gray (1), RGB (3) or RGBA (4) image to PNG in memory. On success returns 0 and sets `*out_data`
/// (free it with `sam_png_free`) and `*out_size`; on failure returns 1 with the text in `message` (256 bytes).
/// `level`: zlib compression level 0-9, or -1 for libpng's default (6).
static inline int sam_png_encode(const unsigned char *pixels, unsigned int width, unsigned int height, int channels,
                                 int level, unsigned char **out_data, size_t *out_size, char *message) {
    sam_png_error_ctx ctx;
    sam_png_writer writer;
    png_structp volatile png = NULL;
    png_infop volatile pinfo = NULL;
    int color_type;
    size_t y, stride;

    message[0] = 0;
    *out_data = NULL;
    *out_size = 0;
    switch (channels) {
        case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
        case 2: color_type = PNG_COLOR_TYPE_GRAY_ALPHA; break;
        case 3: color_type = PNG_COLOR_TYPE_RGB; break;
        case 4: color_type = PNG_COLOR_TYPE_RGB_ALPHA; break;
        default: strcpy(message, "unsupported channel count"); return 1;
    }
    ctx.message = message;
    writer.data = NULL;
    writer.size = 0;
    writer.capacity = 0;
    writer.failed = 0;
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, sam_png_error_fn, sam_png_warning_fn);
    if (!png) {
        strcpy(message, "png_create_write_struct failed");
        return 1;
    }
    if (setjmp(ctx.jump)) {
        png_structp p = png;
        png_infop i = pinfo;
        png_destroy_write_struct(&p, i ? &i : NULL);
        free(writer.data);
        return 1;
    }
    pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_error(png, "png_create_info_struct failed");
    }
    png_set_write_fn(png, &writer, sam_png_write_fn, sam_png_flush_fn);
    if (level >= 0 && level <= 9) png_set_compression_level(png, level);
    png_set_IHDR(png, pinfo, width, height, 8, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, pinfo);
    stride = (size_t)width * (size_t)channels;
    for (y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + y * stride));
    }
    png_write_end(png, NULL);
    {
        png_structp p = png;
        png_infop i = pinfo;
        png_destroy_write_struct(&p, &i);
    }
    *out_data = writer.data;
    *out_size = writer.size;
    return 0;
}

/// Frees a buffer returned by `sam_png_encode`.
static inline void sam_png_free(unsigned char *data) { free(data); }
