//! Every back end passes the same conformance suite.

mod memory {
    nascent_store::storage_conformance!(|| (nascent_store::MemoryStorage::new(), ()));
}

mod sqlite {
    nascent_store::storage_conformance!(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("study.db");
        let url = format!("sqlite://{}", path.display());
        let storage = nascent_store::SqliteStorage::open(&path, &url).expect("open");
        (storage, dir)
    });
}

mod boxed_url {
    // The same suite through `open` and a boxed trait object.
    nascent_store::storage_conformance!(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("x.db").display());
        (nascent_store::open(&url).expect("open"), dir)
    });
}
