def test_organizer_sees_the_tree(login_as, world):
    client = login_as("organizer")
    page = client.get("/").get_data(as_text=True)
    assert "Tỉnh ủy Thử Nghiệm" in page and "Đảng ủy xã Yên Bình" in page
