# libFuzzer targets, one per parser or packer (tests/fuzz/fuzz_*.c).
# Included by the top-level Makefile, whose CPPFLAGS_ALL, WARN and CORE_SRC
# it uses: include it after they are set.
#
#   make fuzz-build                 build every target into build-fuzz/
#   make fuzz [FUZZ_SECONDS=60]     build, then run each target that long
#   make -j2 fuzz                   run two targets at a time
#   make fuzz WERROR=1              warnings are errors (CI), through $(WARN)
#
# Each target runs on build-fuzz/corpus/<target>, which starts as a copy
# of tests/fuzz/corpus/<target> (the tree is never written to) and keeps
# what the fuzzer found until `make clean`. Crashes, leaks and sanitizer
# reports fail the run; the reproducer is left in build-fuzz/artifacts/
# and the log in build-fuzz/logs/.

# Included before the first rule, this file would otherwise provide the
# default goal.
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD ?= build-fuzz
FUZZ_CFLAGS ?= -O1 -g
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS_ALL := -std=c11 $(WARN) -fno-strict-aliasing $(FUZZ_SAN) \
	$(FUZZ_CFLAGS)

FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_BIN := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_NAMES))
FUZZ_RUNS := $(addprefix fuzz-run-,$(FUZZ_NAMES))
FUZZ_CORE_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(CORE_SRC))
FUZZ_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRC))

# Longest input per target: a little past the largest message or value
# each parser has to handle (a reply is at most 262 bytes, a URL with
# fully escaped 255-byte credentials about 1800).
FUZZ_MAXLEN_fuzz_method_reply := 16
FUZZ_MAXLEN_fuzz_auth_reply := 16
FUZZ_MAXLEN_fuzz_reply := 300
FUZZ_MAXLEN_fuzz_udp_header := 512
FUZZ_MAXLEN_fuzz_name := 600
FUZZ_MAXLEN_fuzz_url := 2048
FUZZ_MAXLEN_fuzz_handshake := 2048
FUZZ_MAXLEN_fuzz_exclude := 4096
FUZZ_MAXLEN_fuzz_config := 4096
FUZZ_MAXLEN_fuzz_proxylist := 4096
FUZZ_MAXLEN_fuzz_udp_recv := 1200
# A query (up to 255 bytes, its length in the first byte) and a reply
# somewhat past the 512 bytes of plain UDP DNS.
FUZZ_MAXLEN_fuzz_dns_reply := 1024
# A program's query (a 255-byte name, an OPT record with some options), or
# a reply of a little more than 512 bytes.
FUZZ_MAXLEN_fuzz_dns_query := 1024
# An ELF header and a few dozen program headers; a command line of a few
# dozen words; hostent's 19 bytes of parameters and a name past 255 bytes.
FUZZ_MAXLEN_fuzz_elf := 4096
FUZZ_MAXLEN_fuzz_options := 1024
FUZZ_MAXLEN_fuzz_hostent := 600
# SOCKS5WRAP_TABLE is at most 49 bytes.
FUZZ_MAXLEN_fuzz_tableref := 128
# A socket address is at most 128 bytes.
FUZZ_MAXLEN_fuzz_dst := 160
# Several lines of an /etc/hosts text, some with fields past 255 bytes.
FUZZ_MAXLEN_fuzz_hosts := 4096
# An epoll fdinfo text with a few dozen registrations, and lines past the
# reader's 256 bytes.
FUZZ_MAXLEN_fuzz_fdinfo := 8192

# Targets for code outside the core link the one file they test as well
# (and what it calls: elf.c asks library.c which builds LD_PRELOAD names):
# a launcher file (not main.c, whose main() would clash with libFuzzer's),
# or a preload file without hooks, hostent.c or route.c (the hooks would
# interpose on the fuzzer's own calls).
FUZZ_EXTRA_OBJ := $(FUZZ_BUILD)/obj/src/launcher/elf.o \
	$(FUZZ_BUILD)/obj/src/launcher/library.o \
	$(FUZZ_BUILD)/obj/src/launcher/options.o \
	$(FUZZ_BUILD)/obj/src/launcher/strerror.o \
	$(FUZZ_BUILD)/obj/src/preload/hostent.o \
	$(FUZZ_BUILD)/obj/src/preload/route.o
$(FUZZ_BUILD)/fuzz_elf: $(FUZZ_BUILD)/obj/src/launcher/elf.o \
	$(FUZZ_BUILD)/obj/src/launcher/library.o \
	$(FUZZ_BUILD)/obj/src/launcher/strerror.o
$(FUZZ_BUILD)/fuzz_options: $(FUZZ_BUILD)/obj/src/launcher/options.o \
	$(FUZZ_BUILD)/obj/src/launcher/strerror.o
$(FUZZ_BUILD)/fuzz_hostent: $(FUZZ_BUILD)/obj/src/preload/hostent.o
$(FUZZ_BUILD)/fuzz_dst: $(FUZZ_BUILD)/obj/src/preload/route.o

.PHONY: fuzz fuzz-build $(FUZZ_RUNS)
# Built through a pattern rule, but not throwaway intermediates.
.SECONDARY: $(FUZZ_OBJ) $(FUZZ_CORE_OBJ) $(FUZZ_EXTRA_OBJ)

fuzz-build: $(FUZZ_BIN)

$(FUZZ_BUILD)/obj/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS_ALL) $(FUZZ_CFLAGS_ALL) \
		-fsanitize=fuzzer-no-link -c -o $@ $<

# $^: the target's object, the core, and any object named above.
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lpthread

# A run always "succeeds" for make, so that one crash does not stop the
# other targets; the summary fails instead.
$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_BUILD)/%
	@sh tests/fuzz/run.sh run $(FUZZ_BUILD) $* \
		$(or $(FUZZ_MAXLEN_$*),4096) $(FUZZ_SECONDS)

fuzz: $(FUZZ_RUNS)
	@sh tests/fuzz/run.sh summary $(FUZZ_BUILD) $(FUZZ_NAMES)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
