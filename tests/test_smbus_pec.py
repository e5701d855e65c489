from drivers.smbus_pec import crc8, read_word_pec, write_word_pec


def test_crc8_known_answer():
    # CRC-8/SMBUS check value for "123456789".
    assert crc8(b"123456789") == 0xF4


def test_read_word_pec_matches_the_datasheet_example():
    # MLX90614 datasheet: reading RAM 0x07 at 0x5A returns 0x3AD2 with PEC 0x30.
    assert read_word_pec(0x5A, 0x07, 0xD2, 0x3A) == 0x30


def test_write_word_pec_covers_address_command_and_data_only():
    assert write_word_pec(0x5A, 0x24, 0x00, 0x00) == crc8([0xB4, 0x24, 0x00, 0x00])
