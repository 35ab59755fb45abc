#include "lib/loop.h"

#include <ev.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>

#define LOOP_MAX_SIGNALS 8

/* The loop owns every watcher it hands out: those still registered when
 * it is freed go with it, so a daemon need not keep each handle to exit
 * without leaks. */
struct loop_link {
	struct loop_link *prev, *next;
};

struct loop_io {
	ev_io w;		/* first: libev hands back this pointer */
	struct loop_link link;
	loop_io_cb cb;
	void *arg;
};

struct loop_timer {
	ev_timer w;		/* first, likewise */
	struct loop_link link;
	loop_timer_cb cb;
	void *arg;
	double repeat;
};

struct loop_sig {
	ev_signal w;
	loop_signal_cb cb;
	void *arg;
};

struct loop {
	struct ev_loop *ev;
	struct loop_sig sigs[LOOP_MAX_SIGNALS];
	int nsigs;
	struct loop_link ios, timers;	/* circular lists, heads */
};

static void link_add(struct loop_link *head, struct loop_link *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

static void link_del(struct loop_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

#define LINK_OWNER(p, type) ((type *)((char *)(p) - offsetof(type, link)))

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_SIGNALFD);
	if (!l->ev)
		die("cannot create event loop");
	l->ios.next = l->ios.prev = &l->ios;
	l->timers.next = l->timers.prev = &l->timers;
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->nsigs; i++)
		ev_signal_stop(l->ev, &l->sigs[i].w);
	while (l->ios.next != &l->ios)
		loop_io_del(l, LINK_OWNER(l->ios.next, struct loop_io));
	while (l->timers.next != &l->timers)
		loop_timer_del(l, LINK_OWNER(l->timers.next, struct loop_timer));
	ev_loop_destroy(l->ev);
	free(l);
}

int loop_run(struct loop *l)
{
	ev_run(l->ev, 0);
	return 0;
}

void loop_stop(struct loop *l)
{
	ev_break(l->ev, EVBREAK_ALL);
}

uint64_t loop_now_ns(struct loop *l)
{
	return (uint64_t)(ev_now(l->ev) * 1e9);
}

static void io_thunk(struct ev_loop *ev, ev_io *w, int revents)
{
	struct loop_io *io = (struct loop_io *)w;

	(void)ev;
	(void)revents;
	io->cb(io->arg, w->fd);
}

struct loop_io *loop_io_add(struct loop *l, int fd, loop_io_cb cb, void *arg)
{
	struct loop_io *io = xcalloc(1, sizeof(*io));

	io->cb = cb;
	io->arg = arg;
	ev_io_init(&io->w, io_thunk, fd, EV_READ);
	ev_io_start(l->ev, &io->w);
	link_add(&l->ios, &io->link);
	return io;
}

void loop_io_del(struct loop *l, struct loop_io *io)
{
	if (!io)
		return;
	ev_io_stop(l->ev, &io->w);
	link_del(&io->link);
	free(io);
}

static void timer_thunk(struct ev_loop *ev, ev_timer *w, int revents)
{
	struct loop_timer *t = (struct loop_timer *)w;

	(void)ev;
	(void)revents;
	t->cb(t->arg);
}

struct loop_timer *loop_timer_add(struct loop *l, uint64_t after_ns,
				  uint64_t repeat_ns, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));

	t->cb = cb;
	t->arg = arg;
	t->repeat = (double)repeat_ns / 1e9;
	ev_timer_init(&t->w, timer_thunk, (double)after_ns / 1e9, t->repeat);
	ev_timer_start(l->ev, &t->w);
	link_add(&l->timers, &t->link);
	return t;
}

void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t after_ns)
{
	ev_timer_stop(l->ev, &t->w);
	ev_timer_set(&t->w, (double)after_ns / 1e9, t->repeat);
	ev_timer_start(l->ev, &t->w);
}

void loop_timer_del(struct loop *l, struct loop_timer *t)
{
	if (!t)
		return;
	ev_timer_stop(l->ev, &t->w);
	link_del(&t->link);
	free(t);
}

static void signal_thunk(struct ev_loop *ev, ev_signal *w, int revents)
{
	struct loop_sig *s = (struct loop_sig *)w;

	(void)ev;
	(void)revents;
	s->cb(s->arg, w->signum);
}

void loop_signal_add(struct loop *l, int signo, loop_signal_cb cb, void *arg)
{
	struct loop_sig *s;

	if (l->nsigs == LOOP_MAX_SIGNALS)
		die("loop: more than %d signal handlers", LOOP_MAX_SIGNALS);
	s = &l->sigs[l->nsigs++];
	s->cb = cb;
	s->arg = arg;
	ev_signal_init(&s->w, signal_thunk, signo);
	ev_signal_start(l->ev, &s->w);
}

static void stop_cb(void *arg, int signo)
{
	(void)signo;
	loop_stop(arg);
}

void loop_stop_on_signals(struct loop *l)
{
	signal(SIGPIPE, SIG_IGN);
	loop_signal_add(l, SIGINT, stop_cb, l);
	loop_signal_add(l, SIGTERM, stop_cb, l);
}
