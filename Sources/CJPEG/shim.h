// libjpeg(-turbo) for Swift, plus one C helper that decodes a whole in-memory JPEG with setjmp/longjmp kept inside C,
// so that a libjpeg error becomes a return code and a message instead of exit() (Swift cannot use setjmp safely).
// Decoder settings follow Pillow's JpegDecode.c (libjpeg defaults: JDCT_ISLOW, fancy upsampling, no scaling).
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/// What the header says. `jpeg_color_space` is libjpeg's J_COLOR_SPACE guess (from JFIF/Adobe markers).
typedef struct {
    int width;
    int height;
    int components;
    int jpeg_color_space;
    int progressive;
} sam_jpeg_info;

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *message; /* at least JMSG_LENGTH_MAX bytes */
} sam_jpeg_error_mgr;

typedef struct {
    struct jpeg_source_mgr pub;
    int all_rows_read; /* once every scanline is out, a missing EOI is tolerated (as Pillow's decoder does) */
} sam_jpeg_source_mgr;

static void sam_jpeg_error_exit(j_common_ptr cinfo) {
    sam_jpeg_error_mgr *err = (sam_jpeg_error_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* Warnings ("Corrupt JPEG data: ...") are silent and non-fatal, as in Pillow. */
static void sam_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void sam_jpeg_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void sam_jpeg_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

static boolean sam_jpeg_fill_input_buffer(j_decompress_ptr cinfo) {
    static const JOCTET eoi[2] = {0xFF, JPEG_EOI};
    sam_jpeg_source_mgr *src = (sam_jpeg_source_mgr *)cinfo->src;
    if (src->all_rows_read) {
        src->pub.next_input_byte = eoi;
        src->pub.bytes_in_buffer = 2;
        return TRUE;
    }
    ERREXIT(cinfo, JERR_INPUT_EOF);
    return FALSE;
}

static void sam_jpeg_skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
    if (num_bytes <= 0) return;
    if ((size_t)num_bytes > cinfo->src->bytes_in_buffer) {
        ERREXIT(cinfo, JERR_INPUT_EOF);
    }
    cinfo->src->next_input_byte += (size_t)num_bytes;
    cinfo->src->bytes_in_buffer -= (size_t)num_bytes;
}

/// Decodes `data[0..<size]`. With `out == NULL` only the header is read into `info`. Otherwise the image is decoded
/// to `out_color_space` (JCS_GRAYSCALE, JCS_RGB or JCS_CMYK) into `out`, which must hold exactly
/// width * height * out_components bytes (`out_size`); `max_pixels` bounds width * height before any allocation.
/// Returns 0 on success, 1 on a libjpeg error (text in `message`, which must hold JMSG_LENGTH_MAX = 200 bytes),
/// 2 when the output buffer size does not match, 3 when the image exceeds `max_pixels`.
static inline int sam_jpeg_decode(const unsigned char *data, size_t size, sam_jpeg_info *info, unsigned char *out,
                                  size_t out_size, int out_color_space, long long max_pixels, char *message) {
    struct jpeg_decompress_struct cinfo;
    sam_jpeg_error_mgr jerr;
    sam_jpeg_source_mgr src;
    volatile int status = 0;

    message[0] = 0;
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = sam_jpeg_error_exit;
    jerr.pub.output_message = sam_jpeg_output_message;
    jerr.message = message;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    src.pub.init_source = sam_jpeg_init_source;
    src.pub.fill_input_buffer = sam_jpeg_fill_input_buffer;
    src.pub.skip_input_data = sam_jpeg_skip_input_data;
    src.pub.resync_to_restart = jpeg_resync_to_restart;
    src.pub.term_source = sam_jpeg_term_source;
    src.pub.next_input_byte = data;
    src.pub.bytes_in_buffer = size;
    src.all_rows_read = 0;
    cinfo.src = &src.pub;

    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->components = cinfo.num_components;
    info->jpeg_color_space = (int)cinfo.jpeg_color_space;
    info->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
    if (out == NULL) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        return 3;
    }
    cinfo.out_color_space = (J_COLOR_SPACE)out_color_space;
    jpeg_start_decompress(&cinfo);
    {
        size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
        if (stride * (size_t)cinfo.output_height != out_size) {
            status = 2;
        } else {
            while (cinfo.output_scanline < cinfo.output_height) {
                JSAMPROW row = out + (size_t)cinfo.output_scanline * stride;
                jpeg_read_scanlines(&cinfo, &row, 1);
            }
            src.all_rows_read = 1;
            jpeg_finish_decompress(&cinfo);
        }
    }
    jpeg_destroy_decompress(&cinfo);
    return status;
}
