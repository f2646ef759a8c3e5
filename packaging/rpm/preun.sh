# On erase ($1 = 0), not upgrade: PAM lines an administrator added by hand are not ours
# to edit, but a "required" line naming a missing module refuses every login.
if [ "$1" = 0 ]; then
    hand_written=$(grep -l -s -E '^[^#]*pam_twofold\.so' /etc/pam.d/* || true)
    if [ -n "$hand_written" ]; then
        echo "twofold: WARNING: these PAM files still use pam_twofold.so, which is being removed:" >&2
        echo "$hand_written" | sed 's/^/twofold:   /' >&2
        echo "twofold: logins through them will fail until you delete those lines." >&2
    fi
fi
exit 0
