/* Stand-in for libvpx (VP8/VP9) or libaom (AV1) in the ceusdesk bundle (packaging/slim_libs.py), built
 * with -DPREFIX=vpx_ or -DPREFIX=aom_ (the two libraries share one API shape). ceusdesk never needs
 * them: FFmpeg decodes VP8/VP9 itself and only OpenCV's AVIF image codec uses libaom. Every call answers
 * CODEC_INCAPABLE or "nothing", so the codec fails to open the normal way - a file needing it is then
 * unreadable (cv2.imread returns None, VideoCapture does not open), never a crash. */
#include <stddef.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(PREFIX, name)
#define STR_(x) #x
#define STR(x) STR_(x)

enum { CODEC_INCAPABLE = 4 }; /* VPX_CODEC_INCAPABLE == AOM_CODEC_INCAPABLE */
static const char message[] = STR(PREFIX) " codec library is not part of the ceusdesk bundle";

const char *F(codec_build_config)(void) { return ""; }
const char *F(codec_version_str)(void) { return "none (ceusdesk bundle)"; }
const char *F(codec_version_extra_str)(void) { return ""; }
int F(codec_version)(void) { return 0; }
const char *F(codec_err_to_string)(int err) { (void)err; return message; }
const char *F(codec_error)(const void *ctx) { (void)ctx; return message; }
const char *F(codec_error_detail)(const void *ctx) { (void)ctx; return NULL; }
const char *F(codec_iface_name)(const void *iface) { (void)iface; return "none"; }
long F(codec_get_caps)(const void *iface) { (void)iface; return 0; }
int F(codec_dec_init_ver)(void *ctx, const void *iface, const void *cfg, long flags, int ver) {
  (void)ctx; (void)iface; (void)cfg; (void)flags; (void)ver; return CODEC_INCAPABLE; }
int F(codec_enc_init_ver)(void *ctx, const void *iface, const void *cfg, long flags, int ver) {
  (void)ctx; (void)iface; (void)cfg; (void)flags; (void)ver; return CODEC_INCAPABLE; }
int F(codec_enc_init_multi_ver)(void) { return CODEC_INCAPABLE; }
int F(codec_enc_config_default)(const void *iface, void *cfg, unsigned usage) {
  (void)iface; (void)cfg; (void)usage; return CODEC_INCAPABLE; }
int F(codec_enc_config_set)(void *ctx, const void *cfg) { (void)ctx; (void)cfg; return CODEC_INCAPABLE; }
int F(codec_set_option)(void *ctx, const char *name, const char *value) {
  (void)ctx; (void)name; (void)value; return CODEC_INCAPABLE; }
int F(codec_decode)(void) { return CODEC_INCAPABLE; }
int F(codec_encode)(void) { return CODEC_INCAPABLE; }
int F(codec_destroy)(void *ctx) { (void)ctx; return CODEC_INCAPABLE; }
int F(codec_peek_stream_info)(void) { return CODEC_INCAPABLE; }
int F(codec_get_stream_info)(void) { return CODEC_INCAPABLE; }
int F(codec_set_frame_buffer_functions)(void) { return CODEC_INCAPABLE; }
int F(codec_set_cx_data_buf)(void) { return CODEC_INCAPABLE; }
const void *F(codec_get_cx_data)(void *ctx, void *iter) { (void)ctx; (void)iter; return NULL; }
void *F(codec_get_frame)(void *ctx, void *iter) { (void)ctx; (void)iter; return NULL; }
void *F(codec_get_global_headers)(void *ctx) { (void)ctx; return NULL; }
void *F(codec_get_preview_frame)(void *ctx) { (void)ctx; return NULL; }
void *F(img_alloc)(void) { return NULL; }
void *F(img_wrap)(void) { return NULL; }
void F(img_free)(void *img) { (void)img; }
/* codec control: vpx_codec_control_ (libvpx) and aom_codec_control (libaom) */
int CAT(F(codec_control), _)(void *ctx, int id, ...) { (void)ctx; (void)id; return CODEC_INCAPABLE; }
int F(codec_control)(void *ctx, int id, ...) { (void)ctx; (void)id; return CODEC_INCAPABLE; }
/* the codec interfaces: none, so an init with them fails */
const void *F(codec_vp8_cx)(void) { return NULL; }
const void *F(codec_vp8_dx)(void) { return NULL; }
const void *F(codec_vp9_cx)(void) { return NULL; }
const void *F(codec_vp9_dx)(void) { return NULL; }
const void *F(codec_av1_cx)(void) { return NULL; }
const void *F(codec_av1_dx)(void) { return NULL; }
