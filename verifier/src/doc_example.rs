pub(crate) const DOC_KEY: [u8; 32] = [0; 32]; pub(crate) const DOC_TOKEN: &[u8] = &[];
