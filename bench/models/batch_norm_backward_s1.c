// A model of BatchNorm backward NCHW on S1 (x and dy 32 x 64 x 56 x 56, 25.7 MB each): per channel the sums of dy and
// dy * x, then dx = dy * p + x * q + r streamed, in memory order, channel by channel (a channel's 800 KB of x and dy
// in L2 for dx) or in blocks of channels (in L3), against the limit (x and dy read, dx streamed); 1 or 2 threads
// (README, fifty-fourth section). No double precision and no shift: the orders' memory cost only.
// Build and run: gcc -O3 -march=native -fopenmp -o bwd batch_norm_backward_s1.c && ./bwd <threads> <rounds>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#define NS 32
#define C 64
#define HW 3136
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec*1e-3;}
static float *x,*dy,*dx;
static double U[C],V[C];
// sums over one run of HW floats into acc (both x and dy)
static inline void sums(const float* a,const float* b,__m512* su,__m512* sv){
  __m512 u0=_mm512_setzero_ps(),u1=u0,v0=u0,v1=u0;
  for(int i=0;i<HW;i+=32){ __m512 d0=_mm512_loadu_ps(b+i),d1=_mm512_loadu_ps(b+i+16);
    u0=_mm512_add_ps(u0,d0);u1=_mm512_add_ps(u1,d1); v0=_mm512_fmadd_ps(d0,_mm512_loadu_ps(a+i),v0); v1=_mm512_fmadd_ps(d1,_mm512_loadu_ps(a+i+16),v1);}
  *su=_mm512_add_ps(*su,_mm512_add_ps(u0,u1)); *sv=_mm512_add_ps(*sv,_mm512_add_ps(v0,v1));
}
static inline void apply(const float* a,const float* b,float* o,float p,float q,float r){
  __m512 P=_mm512_set1_ps(p),Q=_mm512_set1_ps(q),R=_mm512_set1_ps(r);
  for(int i=0;i<HW;i+=16) _mm512_stream_ps(o+i,_mm512_fmadd_ps(_mm512_loadu_ps(b+i),P,_mm512_fmadd_ps(_mm512_loadu_ps(a+i),Q,R)));
}
static void limit(int T){
  long n=(long)NS*C*HW;
  #pragma omp parallel for num_threads(T) schedule(static)
  for(long i=0;i<n;i+=16*1024){ long e=i+16*1024; if(e>n)e=n; for(long j=i;j<e;j+=16) _mm512_stream_ps(dx+j,_mm512_add_ps(_mm512_loadu_ps(x+j),_mm512_loadu_ps(dy+j)));}
  _mm_sfence();
}
static void memorder(int T){
  // pass A: memory order, each thread half of samples; per-thread partials
  #pragma omp parallel num_threads(T)
  { int t=omp_get_thread_num(); __m512 su[C],sv[C]; for(int c=0;c<C;c++){su[c]=_mm512_setzero_ps();sv[c]=su[c];}
    for(int s=t*NS/T;s<(t+1)*NS/T;s++) for(int c=0;c<C;c++){ long o=((long)s*C+c)*HW; sums(x+o,dy+o,&su[c],&sv[c]); }
    #pragma omp critical
    for(int c=0;c<C;c++){U[c]+=_mm512_reduce_add_ps(su[c]);V[c]+=_mm512_reduce_add_ps(sv[c]);}
  }
  #pragma omp parallel for num_threads(T) schedule(static)
  for(int s=0;s<NS;s++) for(int c=0;c<C;c++){ long o=((long)s*C+c)*HW; apply(x+o,dy+o,dx+o,1e-3f*U[c],1e-3f*V[c],0.5f);}
  _mm_sfence();
}
static void blocks(int T,int k){
  // channel blocks of k: each thread takes blocks
  #pragma omp parallel for num_threads(T) schedule(static)
  for(int c0=0;c0<C;c0+=k){
    __m512 su[64],sv[64]; for(int c=0;c<k;c++){su[c]=_mm512_setzero_ps();sv[c]=su[c];}
    for(int s=0;s<NS;s++) for(int c=0;c<k;c++){ long o=((long)s*C+c0+c)*HW; sums(x+o,dy+o,&su[c],&sv[c]); }
    float pu[64],pv[64]; for(int c=0;c<k;c++){pu[c]=_mm512_reduce_add_ps(su[c]);pv[c]=_mm512_reduce_add_ps(sv[c]);}
    for(int s=0;s<NS;s++) for(int c=0;c<k;c++){ long o=((long)s*C+c0+c)*HW; apply(x+o,dy+o,dx+o,1e-3f*pu[c],1e-3f*pv[c],0.5f);}
  }
  _mm_sfence();
}
int main(int argc,char**argv){
  long n=(long)NS*C*HW; x=aligned_alloc(64,n*4); dy=aligned_alloc(64,n*4); dx=aligned_alloc(64,n*4);
  for(long i=0;i<n;i++){x[i]=(float)(i%1000)*1e-3f; dy[i]=(float)(i%777)*1e-3f; dx[i]=0;}
  int T=atoi(argv[1]); int R=atoi(argv[2]);
  for(int r=0;r<R;r++){
    double t[6]; int ks[4]={1,2,8,16};
    for(int v=0;v<6;v++){ double best=1e30; for(int rep=0;rep<7;rep++){ double t0=now();
      if(v==0) limit(T); else if(v==1) memorder(T); else blocks(T,ks[v-2]);
      double d=now()-t0; if(d<best)best=d;} t[v]=best; }
    printf("T=%d limit %.0f memorder %.0f (%.2f) k1 %.0f (%.2f) k2 %.0f (%.2f) k8 %.0f (%.2f) k16 %.0f (%.2f)\n",T,t[0],t[1],t[1]/t[0],t[2],t[2]/t[0],t[3],t[3]/t[0],t[4],t[4]/t[0],t[5],t[5]/t[0]);
  }
}
