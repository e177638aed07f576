// A model of InstanceNorm NCHW on S2 (32 x 512 x 7 x 7: 16,384 planes of 49 floats, 3.2 MB, in L3), one thread, AVX-512,
// to see how close a two-pass kernel can come to the streaming limit here (README, fifty-fourth section). Each plane's
// sums as the library makes them (shift = the plane's first element; three vectors and a masked one), sixteen planes'
// sums folded by a transposing tree, the finish in double eight lanes at a time, the apply plane by plane with broadcast
// coefficients. Variants: limit (read, streamed write), copy, two passes over batches of 256 or 64 planes, each group's
// apply right after its sums, the sums alone, the sums with the next group prefetched, the apply as aligned vectors.
// Build and run: gcc -O3 -march=native -o s2 instance_norm_s2.c -lm && ./s2 <rounds> <prefetch bytes>
// (each variant's best of 20 calls a round). `./s2 windows <rounds> <groups a batch>`: the streamed pass, a copy (the bench's
// limit at S2, whose tensors stay in L3: normal stores), two passes over batches of that many groups of 16 planes, and the
// same with the finish left out (the coefficients not computed), each timed as the library's harness and bench time a
// kernel, the mean call of an 8 ms window, windows alternating; medians (fifty-fifth section: the fifty-fourth compared this
// program's best calls with the library's medians, and its two passes with the streamed pass).
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#define L 49
#define P (32*512)
#define N (P*L)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec*1e-3;}
static float *x,*y,*gam,*bet;
static void limit(){ // read x, NT-write y (y aligned 64)
  for(long i=0;i<N;i+=16){ __m512 v=_mm512_loadu_ps(x+i); _mm512_stream_ps(y+i,v);} _mm_sfence();}
static void copy(){ for(long i=0;i<N;i+=16){ _mm512_storeu_ps(y+i,_mm512_loadu_ps(x+i));}}
static inline __m512 comb1(__m512 a,__m512 b){return _mm512_add_ps(_mm512_unpacklo_ps(a,b),_mm512_unpackhi_ps(a,b));}
static inline __m512 comb2(__m512 a,__m512 b){return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a),_mm512_castps_pd(b))),_mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a),_mm512_castps_pd(b))));}
static inline __m512 comb3(__m512 a,__m512 b){return _mm512_add_ps(_mm512_shuffle_f32x4(a,b,0x88),_mm512_shuffle_f32x4(a,b,0xDD));}
static inline __m512 tree(__m512* v){
  __m512 a[8],b[4],c[2];
  for(int i=0;i<8;i++) a[i]=comb1(v[2*i],v[2*i+1]);
  for(int i=0;i<4;i++) b[i]=comb2(a[2*i],a[2*i+1]);
  for(int i=0;i<2;i++) c[i]=comb3(b[2*i],b[2*i+1]);
  return comb3(c[0],c[1]);
}
// lane order after tree is permuted; we just compute a permutation index once
static __m512i perm;
static int kp[49]; static __mmask16 km[49];
static inline void flat(float* xb,float* yb,const float* A,const float* B,const float* C){
  for(int k=0;k<49;k++){
    int pl=kp[k]; __m512 v=_mm512_load_ps(xb+16*k);
    __m512 r=_mm512_fmadd_ps(_mm512_sub_ps(v,_mm512_set1_ps(C[pl])),_mm512_set1_ps(A[pl]),_mm512_set1_ps(B[pl]));
    if(km[k]) { r=_mm512_mask_blend_ps(km[k], r, _mm512_fmadd_ps(_mm512_sub_ps(v,_mm512_set1_ps(C[pl+1])),_mm512_set1_ps(A[pl+1]),_mm512_set1_ps(B[pl+1]))); }
    _mm512_store_ps(yb+16*k,r);
  }
}
// A group's sixteen planes applied plane by plane: y = (x - c) * a + b, coefficients broadcast; the last vector overlaps.
static inline void planes(const float* b,float* yb,const float* A,const float* B,const float* C){
  for(int p=0;p<16;p++){
    const float* xr=b+p*L; float* yr=yb+p*L;
    __m512 va=_mm512_set1_ps(A[p]),vb=_mm512_set1_ps(B[p]),vc=_mm512_set1_ps(C[p]);
    __m512 t=_mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(xr+33),vc),va,vb);
    _mm512_storeu_ps(yr,_mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(xr),vc),va,vb));
    _mm512_storeu_ps(yr+16,_mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(xr+16),vc),va,vb));
    _mm512_storeu_ps(yr+32,_mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(xr+32),vc),va,vb));
    _mm512_storeu_ps(yr+33,t);
  }
}
static int variant; static long pf; static int nofinish;
static void kernel(int batchGroups){
  const __mmask16 m1=1;
  __m512 sv[16],qv[16];
  float A[16*64] __attribute__((aligned(64))),B[16*64] __attribute__((aligned(64))),C[16*64] __attribute__((aligned(64)));
  int groups=P/16;
  for(int g0=0; g0<groups; g0+=batchGroups){
    int g1=g0+batchGroups; if(g1>groups) g1=groups;
    for(int g=g0; g<g1; g++){
      float* b=x+(long)g*16*L;
      if(pf){ char* pb=(char*)b+pf; for(int l=0;l<49*64;l+=64) _mm_prefetch(pb+l,_MM_HINT_T0); }
      for(int p=0;p<16;p++){
        float* r=b+p*L; __m512 k=_mm512_set1_ps(r[0]);
        __m512 d0=_mm512_sub_ps(_mm512_loadu_ps(r),k),d1=_mm512_sub_ps(_mm512_loadu_ps(r+16),k),d2=_mm512_sub_ps(_mm512_loadu_ps(r+32),k);
        __m512 d3=_mm512_maskz_sub_ps(m1,_mm512_maskz_loadu_ps(m1,r+48),k);
        sv[p]=_mm512_add_ps(_mm512_add_ps(d0,d1),_mm512_add_ps(d2,d3));
        qv[p]=_mm512_fmadd_ps(d0,d0,_mm512_fmadd_ps(d1,d1,_mm512_fmadd_ps(d2,d2,_mm512_mul_ps(d3,d3))));
      }
      __m512 s=_mm512_permutexvar_ps(perm,tree(sv)), q=_mm512_permutexvar_ps(perm,tree(qv));
      if(nofinish){ int o=(g-g0)*16; _mm512_store_ps(A+o,s); _mm512_store_ps(B+o,q); _mm512_store_ps(C+o,s); continue; }
      // finish in double
      __m512 shift=_mm512_i32gather_ps(_mm512_mullo_epi32(_mm512_set_epi32(15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0),_mm512_set1_epi32(L)),b,4);
      __m512d inv=_mm512_set1_pd(1.0/L), eps=_mm512_set1_pd(1e-5);
      __m512d sl=_mm512_cvtps_pd(_mm512_castps512_ps256(s)), sh=_mm512_cvtps_pd(_mm512_extractf32x8_ps(s,1));
      __m512d ql=_mm512_cvtps_pd(_mm512_castps512_ps256(q)), qh=_mm512_cvtps_pd(_mm512_extractf32x8_ps(q,1));
      __m512d ml=_mm512_mul_pd(sl,inv), mh=_mm512_mul_pd(sh,inv);
      __m512d vl=_mm512_fnmadd_pd(ml,ml,_mm512_mul_pd(ql,inv)), vh=_mm512_fnmadd_pd(mh,mh,_mm512_mul_pd(qh,inv));
      __m512d rl=_mm512_div_pd(_mm512_set1_pd(1),_mm512_sqrt_pd(_mm512_add_pd(vl,eps))), rh=_mm512_div_pd(_mm512_set1_pd(1),_mm512_sqrt_pd(_mm512_add_pd(vh,eps)));
      __m512 r=_mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(rl)),_mm512_cvtpd_ps(rh),1);
      __m512 mean=_mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(ml)),_mm512_cvtpd_ps(mh),1);
      int c0=(g*16)%512;
      __m512 a=_mm512_mul_ps(r,_mm512_loadu_ps(gam+c0));
      int o=(g-g0)*16;
      _mm512_store_ps(A+o,a); _mm512_store_ps(B+o,_mm512_loadu_ps(bet+c0)); _mm512_store_ps(C+o,_mm512_add_ps(shift,mean));
      if(variant==2){ flat(b,y+(long)g*16*L,A+o,B+o,C+o); }
      if(variant==1){ // apply right away
        float* yb=y+(long)g*16*L;
        planes(b,yb,A+o,B+o,C+o);
      }
    }
    if(variant==3){ for(int g=g0; g<g1; g++) flat(x+(long)g*16*L,y+(long)g*16*L,A+(g-g0)*16,B+(g-g0)*16,C+(g-g0)*16); }
    if(variant==0){
      for(int g=g0; g<g1; g++){
        float* b=x+(long)g*16*L; float* yb=y+(long)g*16*L; int o=(g-g0)*16;
        planes(b,yb,A+o,B+o,C+o);
      }
    }
  }
}
int main(int argc,char**argv){
  x=aligned_alloc(64,N*4+64); y=aligned_alloc(64,N*4+64); gam=aligned_alloc(64,4096); bet=aligned_alloc(64,4096);
  for(long i=0;i<N;i++) x[i]=(float)rand()/RAND_MAX*2-1;
  for(int i=0;i<512;i++){gam[i]=1+i*1e-3f;bet[i]=i*1e-3f;}
  // find perm: lane j of tree result holds which plane?
  { __m512 v[16]; for(int p=0;p<16;p++) v[p]=_mm512_set1_ps((float)p/16); // each lane p/16 *16 lanes = p
    float t[16]; _mm512_storeu_ps(t,tree(v)); int idx[16]; for(int j=0;j<16;j++) for(int p=0;p<16;p++) if(fabsf(t[j]-p)<0.01f) idx[p]=j; perm=_mm512_loadu_si512(idx);
  }
  for(int k=0;k<49;k++){ int s=16*k; kp[k]=s/49; int e=(s+15)/49; km[k]= e>kp[k] ? (__mmask16)(0xFFFF<<((e*49)-s)) : 0; }
  variant=2; kernel(16);
  { double maxe=0; for(int pl=0;pl<P;pl+=97){ double m=0,v=0; for(int i=0;i<L;i++) m+=x[pl*L+i]; m/=L; for(int i=0;i<L;i++) v+=(x[pl*L+i]-m)*(x[pl*L+i]-m); v/=L; double r=1/sqrt(v+1e-5); int c=pl%512;
    for(int i=0;i<L;i++){ double e=fabs((x[pl*L+i]-m)*r*gam[c]+bet[c]-y[pl*L+i]); if(e>maxe)maxe=e;} } printf("flat maxerr %g\n",maxe);}
  // check correctness of variant 1 vs scalar for a few planes
  variant=1; kernel(16);
  double maxe=0; for(int pl=0;pl<P;pl+=97){ double m=0,v=0; for(int i=0;i<L;i++) m+=x[pl*L+i]; m/=L; for(int i=0;i<L;i++) v+=(x[pl*L+i]-m)*(x[pl*L+i]-m); v/=L; double r=1/sqrt(v+1e-5); int c=pl%512;
    for(int i=0;i<L;i++){ double e=fabs((x[pl*L+i]-m)*r*gam[c]+bet[c]-y[pl*L+i]); if(e>maxe)maxe=e;} }
  printf("maxerr %g\n",maxe);
  if(argc>3 && strcmp(argv[1],"windows")==0){
    int R=atoi(argv[2]), bg=atoi(argv[3]); if(R>64) R=64;
    double w[4][64];
    for(int r=0;r<R;r++) for(int k=0;k<4;k++){
      double t0=now(); int c=0;
      while(now()-t0<8000){ if(k==0) limit(); else if(k==1) copy(); else { variant=0; nofinish=k==3; kernel(bg); nofinish=0; } c++; }
      w[k][r]=(now()-t0)/c; }
    for(int k=0;k<4;k++) for(int i=0;i<R;i++) for(int j=i+1;j<R;j++) if(w[k][j]<w[k][i]){double t=w[k][i];w[k][i]=w[k][j];w[k][j]=t;}
    double l=w[0][R/2], c=w[1][R/2];
    printf("medians of %d windows: streamed pass %.1f us, copy %.1f (the bench's S2 limit: in cache, normal stores), two passes"
      " (batches of %d groups) %.1f (%.2fx the copy, %.2fx the streamed pass), without the finish %.1f (%.2fx, %.2fx)\n",
      R,l,c,bg,w[2][R/2],w[2][R/2]/c,w[2][R/2]/l,w[3][R/2],w[3][R/2]/c,w[3][R/2]/l);
    return 0;
  }
  int rounds=atoi(argv[1]); long pfd=atol(argv[2]);
  for(int R=0;R<rounds;R++){
    double t[7];
    for(int k=0;k<7;k++){ double best=1e30; for(int rep=0;rep<20;rep++){ double t0=now();
      if(k==0) limit(); else if(k==1) copy(); else if(k==2){variant=0;kernel(16);} else if(k==3){variant=1;kernel(16);} else if(k==4) {variant=0;kernel(4);} else if(k==5){variant=5;pf=0;kernel(16);} else {variant=5;pf=pfd;kernel(16);pf=0;}
      double d=now()-t0; if(d<best)best=d;} t[k]=best; }
    printf("limit %.1f copy %.1f two-pass %.1f (%.2f) fused %.1f (%.2f) two-pass4 %.1f (%.2f)\n",t[0],t[1],t[2],t[2]/t[0],t[3],t[3]/t[0],t[4],t[4]/t[0]); printf("   sums-only %.1f (%.2f) sums-pf %.1f (%.2f)\n",t[5],t[5]/t[0],t[6],t[6]/t[0]);
  }
}
