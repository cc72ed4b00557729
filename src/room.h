/* room.h - rooms: membership, history ring, positions, recovery. */
