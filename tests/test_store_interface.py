def test_the_local_store_implements_the_backend_interface(tmp_path):
    from servidor.store.interface import ReadingsBackend
    from servidor.store.readings import ReadingStore

    with ReadingStore.open(tmp_path / "r") as store:
        assert isinstance(store, ReadingsBackend)
