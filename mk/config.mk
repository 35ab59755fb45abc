# Toolchain and flags shared by every build variant.

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
BUILD     ?= build

CSTD      := -std=c17 -D_GNU_SOURCE
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wno-unused-parameter
CPPFLAGS  += -I. -I$(BUILD)/bpf -MMD -MP
OPT       ?= -O2 -g
LDLIBS    += -lev -ljansson -lyaml -lsodium -llmdb -lmnl -lmicrohttpd -lcurl -lbpf -lelf -lz -lm -lpthread
TEST_LIBS := -lcmocka

# The sanitizer variant used by `make check`.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -O1 -g

FUZZ_SECONDS ?= 60
