/* fuzz.h - what the fuzz targets share: MUST(), and a generator seeded by
 * the input, so every choice a target makes (piece sizes, limits) is the
 * same each time the same input runs. Include after rt.h. */
#ifndef RT_FUZZ_H
#define RT_FUZZ_H

/* Traps (a crash libFuzzer reports and saves) unless c holds. */
#define MUST(c) ((c) ? (void)0 : __builtin_trap())

/* FNV-1a of the input: the generator's seed (never 0, which xorshift keeps). */
static uint32_t seed_of(const uint8_t *d, size_t n)
{
    uint32_t h = rt_fnv1a(RT_FNV1A_BASIS, d, n);
    return h ? h : 1;
}

/* xorshift32 (Marsaglia, 2003). */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

#endif
