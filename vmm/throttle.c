/* vCPU throttling (throttle.h). */
#include "throttle.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"
#include "vm.h"

struct throttle {
	struct vm *vm;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t pct;
	bool stop;
};

static void *throttle_thread(void *arg)
{
	struct throttle *t = arg;
	struct vm *vm = t->vm;
	pthread_mutex_lock(&t->lock);
	for (;;) {
		while (!t->stop && !t->pct)
			pthread_cond_wait(&t->cond, &t->lock);
		if (t->stop)
			break;
		/* A slice of running, then every vCPU is sent to sleep for its share. The vCPUs
		 * sleep P/(100-P) slices, so the next kick comes a slice after they wake. */
		uint32_t pct = t->pct;
		uint64_t period_ns = (uint64_t)THROTTLE_SLICE_MS * 1000000ull * 100 / (100 - pct);
		struct timespec until = mc_realtime_after(period_ns);
		int r = 0;
		while (!t->stop && t->pct == pct && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&t->cond, &t->lock, &until);
		if (t->stop || !t->pct || vm_ended(vm))
			continue;
		for (unsigned i = 0; i < vm->ncpus; i++) {
			struct vcpu *v = &vm->vcpus[i];
			if (!v->started)
				continue;
			__atomic_store_n(&v->throttle_kick, true, __ATOMIC_SEQ_CST);
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
			pthread_kill(v->thread, SIGUSR1);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int throttle_new(struct vm *vm, struct throttle **out, mc_err *err)
{
	struct throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return mc_errorf(err, ENOMEM, "throttle");
	t->vm = vm;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	int e = pthread_create(&t->thread, NULL, throttle_thread, t);
	if (e) {
		pthread_mutex_destroy(&t->lock);
		pthread_cond_destroy(&t->cond);
		free(t);
		return mc_errorf(err, e, "throttle thread");
	}
	pthread_setname_np(t->thread, "throttle");
	*out = t;
	return 0;
}

void throttle_set(struct throttle *t, uint32_t pct)
{
	if (pct > THROTTLE_MAX_PCT)
		pct = THROTTLE_MAX_PCT;
	pthread_mutex_lock(&t->lock);
	t->pct = pct;
	__atomic_store_n(&t->vm->throttle_pct, pct, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

void throttle_free(struct throttle *t)
{
	if (!t)
		return;
	throttle_set(t, 0); /* sleeping vCPUs wake within a millisecond */
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}

void throttle_vcpu(struct vcpu *v)
{
	struct vm *vm = v->vm;
	if (!__atomic_exchange_n(&v->throttle_kick, false, __ATOMIC_SEQ_CST))
		return;
	/* Our kick's immediate_exit, cleared before anything is checked: a pause or an end that
	 * set it meanwhile set pause_req or the end first, which are looked at below and at the
	 * top of the vCPU loop. */
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	uint32_t pct = __atomic_load_n(&vm->throttle_pct, __ATOMIC_SEQ_CST);
	if (!pct)
		return;
	uint64_t end = mc_now_ns() + (uint64_t)THROTTLE_SLICE_MS * 1000000ull * pct / (100 - pct);
	/* In steps of at most 1 ms: a pause's kick may come just before a step begins. */
	for (;;) {
		if (vm_ended(vm) || __atomic_load_n(&vm->pause_req, __ATOMIC_SEQ_CST) ||
		    !__atomic_load_n(&vm->throttle_pct, __ATOMIC_SEQ_CST))
			return;
		uint64_t now = mc_now_ns();
		if (now >= end)
			return;
		uint64_t d = end - now < 1000000 ? end - now : 1000000;
		struct timespec ts = {.tv_nsec = (long)d};
		nanosleep(&ts, NULL);
	}
}
